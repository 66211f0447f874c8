// Pipelined tree algorithms: allreduce on a double binary tree (two
// complementary trees, each carrying half the data, reduce up then
// broadcast down, slice by slice so both phases overlap), broadcast and
// reduce on two trees hanging from the root (tree_shape.h); small buffers
// use only the first tree (treesFor). Tree t runs on
// channel t when there are two channels; with one, both trees share
// channel 0 and every rank lists the transfers of each peer in the same
// (slice, phase, tree) order.
#pragma once

#include "core/algorithm.h"

namespace mrd::algo {

Status buildTreeAllReduce(const CollRequest& req, const PlanContext& ctx, Schedule* out);
Status buildTreeBroadcast(const CollRequest& req, const PlanContext& ctx, Schedule* out);
Status buildTreeReduce(const CollRequest& req, const PlanContext& ctx, Schedule* out);
std::unique_ptr<Algorithm> makeTreeAlgorithm();

// The channel of tree t.
inline int treeChannel(const PlanContext& ctx, int t) { return ctx.nchannels >= 2 ? t : 0; }

// Trees worth using for a buffer of `bytes`: the second tree only spreads
// the bandwidth load, so it needs channelMinBytes of its own; below that
// one tree has the same depth with half the messages.
inline int treesFor(size_t bytes, const PlanContext& ctx) {
  return ctx.channelMinBytes == 0 || bytes >= 2 * ctx.channelMinBytes ? 2 : 1;
}

}  // namespace mrd::algo
