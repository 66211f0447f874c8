// Hierarchical allgather (see hierarchical.h). Channel c carries part c of
// every rank's block; each part is cut into slices.
#include "common/group_steps.h"
#include "hierarchical/hierarchical.h"

namespace mrd::algo {

Status buildHierAllGather(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const HostView v(ctx);
  const size_t ts = dataTypeSize(req.type);
  const size_t n = static_cast<size_t>(ctx.nranks), me = static_cast<size_t>(ctx.rank);
  char* output = static_cast<char*>(req.recvbuf);
  const char* input = static_cast<const char*>(req.sendbuf);
  const bool rails = v.layout.uniform();
  const int nch = channelsFor(req.count * ts * n, ctx);
  for (int c = 0; c < nch; ++c) {
    const Range part = evenPart(req.count, static_cast<size_t>(nch), static_cast<size_t>(c));
    TrackedBuffer buf(output, ts, out);
    std::vector<std::vector<int>> ids(n);  // [rank]: the slices of its block's part
    std::vector<int> owner;
    for (size_t q = 0; q < n; ++q) {
      cutSlices(&buf, Range{q * req.count + part.begin, part.count}, ctx, &ids[q]);
      owner.resize(buf.slices(), static_cast<int>(q));
    }
    const int own = out->copy(output + (me * req.count + part.begin) * ts, input + part.begin * ts,
                              part.count * ts, {});
    buf.wroteAll(ids[me], own);
    auto blocksOf = [&](const std::vector<int>& ranks) {
      std::vector<int> all;
      for (int q : ranks) all.insert(all.end(), ids[static_cast<size_t>(q)].begin(), ids[static_cast<size_t>(q)].end());
      return all;
    };
    const std::vector<int>& line = v.localRanks();
    if (rails) {
      // Across hosts on this rail, then within the host: member i of the
      // host passes on what rail i gathered (newest first).
      Blocks railBlocks, hostBlocks(line.size());
      std::vector<int> railRanks = v.rail(v.local);
      for (int q : railRanks) railBlocks.push_back(ids[static_cast<size_t>(q)]);
      groupAllGather(GroupRing{railRanks, v.host, c}, railBlocks, &buf, out);
      for (size_t i = 0; i < line.size(); ++i) {
        std::vector<int> ranks;
        for (int h : v.agOrder()) ranks.push_back(v.layout.rankOn(h, static_cast<int>(i)));
        hostBlocks[i] = blocksOf(ranks);
      }
      groupAllGather(GroupRing{line, v.local, c}, hostBlocks, &buf, out);
      continue;
    }
    // Leaders: gather the host's blocks, allgather whole hosts, broadcast.
    if (v.local != 0) {
      for (int x : ids[me]) {
        out->send(line[0], c, input + (buf.range(x).begin - me * req.count) * ts, buf.bytes(x), {});
      }
    } else {
      for (size_t i = 1; i < line.size(); ++i) {
        for (int x : ids[static_cast<size_t>(line[i])]) {
          auto w = buf.writeDeps(x);
          buf.wrote(x, out->recv(line[i], c, buf.ptr(x), buf.bytes(x), {w[0], w[1], w[2]}));
        }
      }
      Blocks perHost;
      for (int h = 0; h < v.nhosts; ++h) perHost.push_back(blocksOf(v.ranksOf(h)));
      groupAllGather(GroupRing{v.leaders(), v.host, c}, perHost, &buf, out);
    }
    std::vector<int> order;
    for (int h : v.agOrder()) {
      std::vector<int> b = blocksOf(v.ranksOf(h));
      order.insert(order.end(), b.begin(), b.end());
    }
    lineBroadcast(line, v.local, order, c, &buf, out, nullptr, &owner);
  }
  return Status::ok();
}

}  // namespace mrd::algo
