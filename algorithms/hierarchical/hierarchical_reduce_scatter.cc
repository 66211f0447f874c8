// Hierarchical reduce-scatter (see hierarchical.h). Partial sums live in a
// scratch copy of the send buffer's shape; channel c carries part c of
// every rank's block.
#include "common/group_steps.h"
#include "hierarchical/hierarchical.h"

namespace mrd::algo {

Status buildHierReduceScatter(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const HostView v(ctx);
  const size_t ts = dataTypeSize(req.type);
  const size_t n = static_cast<size_t>(ctx.nranks), me = static_cast<size_t>(ctx.rank);
  const size_t total = req.count * n;
  char* output = static_cast<char*>(req.recvbuf);
  const char* input = static_cast<const char*>(req.sendbuf);
  int inputReady = -1;
  if (req.reduce.preMultiply) {
    char* scaled = ctx.scratch->take(total * ts + ts);
    inputReady = scaleInput(req, scaled, input, total, out);
    input = scaled;
  }
  char* work = ctx.scratch->take(total * ts + ts);
  const bool rails = v.layout.uniform();
  const std::vector<int>& line = v.localRanks();
  const int nch = channelsFor(total * ts, ctx);
  for (int c = 0; c < nch; ++c) {
    const Range part = evenPart(req.count, static_cast<size_t>(nch), static_cast<size_t>(c));
    TrackedBuffer buf(work, ts, out);
    std::vector<std::vector<int>> ids(n);  // [rank]: the slices of its block's part
    for (size_t q = 0; q < n; ++q) {
      cutSlices(&buf, Range{q * req.count + part.begin, part.count}, ctx, &ids[q]);
    }
    auto blocksOf = [&](const std::vector<int>& ranks) {
      std::vector<int> all;
      for (int q : ranks) all.insert(all.end(), ids[static_cast<size_t>(q)].begin(), ids[static_cast<size_t>(q)].end());
      return all;
    };
    const Relocation mine{output, me * req.count};
    SlotRing intraSlots(ctx, ts), interSlots(ctx, ts);
    if (rails) {
      // Member i of the host sums, over the host, the blocks of rail i (in
      // the order the rail's reduce-scatter uses them); then the rail sums
      // across hosts, each rank's block ending in its recvbuf.
      Blocks hostBlocks(line.size()), railBlocks;
      for (size_t i = 0; i < line.size(); ++i) {
        std::vector<int> ranks;
        for (int h : v.rsOrder()) ranks.push_back(v.layout.rankOn(h, static_cast<int>(i)));
        hostBlocks[i] = blocksOf(ranks);
      }
      std::vector<int> railRanks = v.rail(v.local);
      for (int q : railRanks) railBlocks.push_back(ids[static_cast<size_t>(q)]);
      groupReduceScatter(GroupRing{line, v.local, c}, hostBlocks, input, inputReady, false, &buf,
                         &intraSlots, out);
      groupReduceScatter(GroupRing{railRanks, v.host, c}, railBlocks, work, -1,
                         req.reduce.average, &buf, &interSlots, out, &mine);
      continue;
    }
    // Leaders: line reduce of everything to the leader, reduce-scatter of
    // whole hosts among leaders, scatter to the host's ranks.
    std::vector<int> order;
    for (int h : v.rsOrder()) {
      std::vector<int> b = blocksOf(v.ranksOf(h));
      order.insert(order.end(), b.begin(), b.end());
    }
    lineReduce(line, v.local, order, c, input, inputReady, &buf, &intraSlots, out);
    auto outPtr = [&](int x) { return output + (buf.range(x).begin - me * req.count) * ts; };
    if (v.local != 0) {
      // Our recvbuf may be our input's block: wait for whatever read it.
      for (int x : ids[me]) {
        auto w = buf.writeDeps(x);
        out->recv(line[0], c, outPtr(x), buf.bytes(x), {w[0], w[1], w[2]});
      }
      continue;
    }
    const bool alone = line.size() == 1;
    Blocks perHost;
    for (int h = 0; h < v.nhosts; ++h) perHost.push_back(blocksOf(v.ranksOf(h)));
    groupReduceScatter(GroupRing{v.leaders(), v.host, c}, perHost, alone ? input : work,
                       alone ? inputReady : -1, req.reduce.average, &buf, &interSlots, out);
    for (size_t i = 1; i < line.size(); ++i) {
      for (int x : ids[static_cast<size_t>(line[i])]) {
        buf.read(x, out->send(line[i], c, buf.ptr(x), buf.bytes(x), {buf.produced(x)}));
      }
    }
    for (int x : ids[me]) out->copy(outPtr(x), buf.ptr(x), buf.bytes(x), {buf.produced(x)});
  }
  return Status::ok();
}

}  // namespace mrd::algo
