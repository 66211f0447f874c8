// Hierarchical broadcast (see hierarchical.h): the root stands for its host
// and sends from its send buffer down both lines at once.
#include "common/group_steps.h"
#include "hierarchical/hierarchical.h"

namespace mrd::algo {

Status buildHierBroadcast(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const HostView v(ctx);
  const size_t ts = dataTypeSize(req.type);
  const size_t bytes = req.count * ts;
  const bool isRoot = ctx.rank == req.root;
  char* output = static_cast<char*>(req.recvbuf);
  const char* source = isRoot ? static_cast<const char*>(req.sendbuf) : nullptr;
  if (isRoot) out->copy(output, req.sendbuf, bytes, {});
  const int rootHost = v.layout.hostOf[static_cast<size_t>(req.root)];
  auto leaderOf = [&](int h) { return h == rootHost ? req.root : v.ranksOf(h).front(); };
  // Across hosts: the hosts from the root's on, one rank each.
  std::vector<int> across;
  int acrossMe = -1;
  for (int t = 0; t < v.nhosts; ++t) {
    const int h = (rootHost + t) % v.nhosts;
    if (h == v.host && leaderOf(h) == ctx.rank) acrossMe = t;
    across.push_back(leaderOf(h));
  }
  // Within the host: from its leader through the others in local order.
  std::vector<int> within{leaderOf(v.host)};
  for (int q : v.localRanks()) {
    if (q != within[0]) within.push_back(q);
  }
  const int withinMe = static_cast<int>(std::find(within.begin(), within.end(), ctx.rank) - within.begin());
  const int nch = channelsFor(bytes, ctx);
  for (int c = 0; c < nch; ++c) {
    Range part = evenPart(req.count, static_cast<size_t>(nch), static_cast<size_t>(c));
    TrackedBuffer buf(output, ts, out);
    std::vector<int> slices;
    cutSlices(&buf, part, ctx, &slices);
    if (acrossMe >= 0) lineBroadcast(across, acrossMe, slices, c, &buf, out, source);
    lineBroadcast(within, withinMe, slices, c, &buf, out, source);
  }
  return Status::ok();
}

}  // namespace mrd::algo
