// Bruck algorithms: alltoall and allgather in ceil(log2 n) rounds for any
// number of ranks. Round k talks to the ranks 2^k away; fewer, larger
// messages than pairwise/ring, for latency-bound (small) operations.
#pragma once

#include "core/algorithm.h"

namespace mrd::algo {

Status buildBruckAlltoAll(const CollRequest& req, const PlanContext& ctx, Schedule* out);
Status buildBruckAllGather(const CollRequest& req, const PlanContext& ctx, Schedule* out);

std::unique_ptr<Algorithm> makeBruckAlgorithm();

}  // namespace mrd::algo
