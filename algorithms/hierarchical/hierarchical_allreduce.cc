// Hierarchical allreduce (see hierarchical.h), one channel per share of the
// buffer. Rails: the channel's part is cut into L shares (one per local
// rank), each share into H blocks (one per host), each block into slices.
// Leaders: the part is cut into H blocks, each into slices.
#include "common/group_steps.h"
#include "hierarchical/hierarchical.h"

namespace mrd::algo {
namespace {

void railChannel(const CollRequest& req, const PlanContext& ctx, const HostView& v, int channel,
                 Range part, const ReductionInput& in, Schedule* out) {
  const int H = v.nhosts;
  const int L = static_cast<int>(v.localRanks().size());
  TrackedBuffer buf(static_cast<char*>(req.recvbuf), dataTypeSize(req.type), out);
  // ids[i][j]: the slices of share i, block j.
  std::vector<std::vector<std::vector<int>>> ids(static_cast<size_t>(L));
  for (int i = 0; i < L; ++i) {
    Range share = evenPart(part.count, static_cast<size_t>(L), static_cast<size_t>(i));
    share.begin += part.begin;
    ids[static_cast<size_t>(i)].resize(static_cast<size_t>(H));
    for (int j = 0; j < H; ++j) {
      Range block = evenPart(share.count, static_cast<size_t>(H), static_cast<size_t>(j));
      block.begin += share.begin;
      cutSlices(&buf, block, ctx, &ids[static_cast<size_t>(i)][static_cast<size_t>(j)]);
    }
  }
  // Shares travel in the host ring's order of use: the reduce-scatter across
  // hosts then starts on the first slices the local one finishes.
  Blocks intraRs, intraAg;
  for (int i = 0; i < L; ++i) {
    intraRs.push_back(concatBlocks(ids[static_cast<size_t>(i)], v.rsOrder()));
    intraAg.push_back(concatBlocks(ids[static_cast<size_t>(i)], v.agOrder()));
  }
  SlotRing intraSlots(ctx, buf.typeSize()), interSlots(ctx, buf.typeSize());
  GroupRing local{v.localRanks(), v.local, channel};
  GroupRing rail{v.rail(v.local), v.host, channel};
  const Blocks& mine = ids[static_cast<size_t>(v.local)];
  groupReduceScatter(local, intraRs, in.data, in.ready, false, &buf, &intraSlots, out);
  groupReduceScatter(rail, mine, buf.base(), -1, req.reduce.average, &buf, &interSlots, out);
  groupAllGather(rail, mine, &buf, out);
  groupAllGather(local, intraAg, &buf, out);
}

void leaderChannel(const CollRequest& req, const PlanContext& ctx, const HostView& v,
                   int channel, Range part, const ReductionInput& in, Schedule* out) {
  const int H = v.nhosts;
  TrackedBuffer buf(static_cast<char*>(req.recvbuf), dataTypeSize(req.type), out);
  Blocks blocks(static_cast<size_t>(H));
  for (int j = 0; j < H; ++j) {
    Range block = evenPart(part.count, static_cast<size_t>(H), static_cast<size_t>(j));
    block.begin += part.begin;
    cutSlices(&buf, block, ctx, &blocks[static_cast<size_t>(j)]);
  }
  const std::vector<int>& line = v.localRanks();
  SlotRing intraSlots(ctx, buf.typeSize());
  lineReduce(line, v.local, concatBlocks(blocks, v.rsOrder()), channel, in.data, in.ready, &buf,
             &intraSlots, out);
  if (v.local == 0) {
    // The host's sum is in the buffer, or is the input itself when alone.
    const bool alone = line.size() == 1;
    SlotRing interSlots(ctx, buf.typeSize());
    GroupRing leaders{v.leaders(), v.host, channel};
    groupReduceScatter(leaders, blocks, alone ? in.data : buf.base(), alone ? in.ready : -1,
                       req.reduce.average, &buf, &interSlots, out);
    groupAllGather(leaders, blocks, &buf, out);
  }
  lineBroadcast(line, v.local, concatBlocks(blocks, v.agOrder()), channel, &buf, out);
}

}  // namespace

Status buildHierAllReduce(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const ReductionInput in = prepareReductionInput(req, req.recvbuf, out);
  if (ctx.nranks == 1) {
    reduceOnOneRank(req, in, req.recvbuf, out);
    return Status::ok();
  }
  const HostView v(ctx);
  const bool rails = v.layout.uniform();
  const int nch = channelsFor(req.count * dataTypeSize(req.type), ctx);
  for (int c = 0; c < nch; ++c) {
    Range part = evenPart(req.count, static_cast<size_t>(nch), static_cast<size_t>(c));
    if (rails) {
      railChannel(req, ctx, v, c, part, in, out);
    } else {
      leaderChannel(req, ctx, v, c, part, in, out);
    }
  }
  return Status::ok();
}

}  // namespace mrd::algo
