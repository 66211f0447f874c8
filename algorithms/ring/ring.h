// Ring algorithms (allreduce, allgather, reduce-scatter), one file each.
#pragma once

#include "core/algorithm.h"

namespace mrd::algo {

Status buildRingAllReduce(const CollRequest& req, const PlanContext& ctx, Schedule* out);
Status buildRingAllGather(const CollRequest& req, const PlanContext& ctx, Schedule* out);
Status buildRingReduceScatter(const CollRequest& req, const PlanContext& ctx, Schedule* out);

std::unique_ptr<Algorithm> makeRingAlgorithm();

}  // namespace mrd::algo
