// Pairwise exchange: alltoall and alltoallv (at step s rank r sends to r+s
// and receives from r-s, every step posted at once), and point-to-point
// send/recv, which are the same thing with one peer.
#pragma once

#include "core/algorithm.h"

namespace mrd::algo {

Status buildPairwiseAlltoAll(const CollRequest& req, const PlanContext& ctx, Schedule* out);
Status buildPairwiseAlltoAllv(const CollRequest& req, const PlanContext& ctx, Schedule* out);
Status buildSendRecv(const CollRequest& req, const PlanContext& ctx, Schedule* out);
std::unique_ptr<Algorithm> makePairwiseAlgorithm();

}  // namespace mrd::algo
