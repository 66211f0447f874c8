// Pipelined chain broadcast and reduce: the ranks form a line starting
// (broadcast) or ending (reduce) at the root; slices flow down the line so
// every link is busy at once.
#pragma once

#include "core/algorithm.h"

namespace mrd::algo {

Status buildChainBroadcast(const CollRequest& req, const PlanContext& ctx, Schedule* out);
Status buildChainReduce(const CollRequest& req, const PlanContext& ctx, Schedule* out);
std::unique_ptr<Algorithm> makeChainAlgorithm();

}  // namespace mrd::algo
