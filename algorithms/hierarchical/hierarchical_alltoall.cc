// Hierarchical alltoall for small blocks (see hierarchical.h): many tiny
// messages across hosts become one per pair of hosts. Each rank sends its
// whole send buffer to its host's leader; the leader packs, for every other
// host, the blocks its ranks send there (by source local rank, then
// destination local rank), exchanges the packs with the other leaders, and
// unpacks for each of its ranks the blocks it receives, in source rank
// order, which is exactly that rank's receive buffer.
#include "common/group_steps.h"
#include "hierarchical/hierarchical.h"

namespace mrd::algo {
namespace {

// A step that finishes after every step of deps (-1 entries ignored).
int joinAll(Schedule* out, char* addr, const std::vector<int>& deps) {
  int acc = -1;
  size_t i = 0;
  while (i < deps.size()) {
    int d[3] = {-1, -1, -1};
    for (int k = 0; k < 3 && i < deps.size(); ++k) d[k] = deps[i++];
    acc = joinSteps(out, addr, {acc, d[0], d[1], d[2]});
  }
  return acc;
}

}  // namespace

Status buildHierAlltoAll(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const HostView v(ctx);
  const size_t bs = req.count * dataTypeSize(req.type);
  const size_t n = static_cast<size_t>(ctx.nranks);
  const std::vector<int>& line = v.localRanks();
  const int leader = line.front();
  const char* input = static_cast<const char*>(req.sendbuf);
  char* output = static_cast<char*>(req.recvbuf);
  if (v.local != 0) {
    // The receive may overwrite the send buffer (in place): after the send.
    int sent = out->send(leader, 0, input, n * bs, {});
    out->recv(leader, 0, output, n * bs, {sent});
    return Status::ok();
  }
  const size_t L = line.size();
  // gathered[a]: the send buffer of local rank a (ours copied: in place,
  // our receive buffer is our send buffer).
  char* gathered = ctx.scratch->take(L * n * bs + 1);
  auto sendBlock = [&](size_t a, int dest) { return gathered + (a * n + static_cast<size_t>(dest)) * bs; };
  std::vector<int> arrived(L, -1);
  arrived[0] = out->copy(gathered, input, n * bs, {});
  for (size_t a = 1; a < L; ++a) {
    arrived[a] = out->recv(line[a], 0, gathered + a * n * bs, n * bs, {});
  }
  // Packs to and from every other host.
  std::vector<char*> packOut(static_cast<size_t>(v.nhosts)), packIn(static_cast<size_t>(v.nhosts));
  std::vector<int> packArrived(static_cast<size_t>(v.nhosts), -1);
  for (int t = 1; t < v.nhosts; ++t) {
    const int h = positiveMod(v.host + t, v.nhosts);
    const std::vector<int>& dst = v.ranksOf(h);
    const size_t bytes = L * dst.size() * bs;
    char* pack = ctx.scratch->take(bytes + 1);
    packOut[static_cast<size_t>(h)] = pack;
    std::vector<int> copies;
    for (size_t a = 0; a < L; ++a) {
      for (size_t b = 0; b < dst.size(); ++b) {
        copies.push_back(out->copy(pack + (a * dst.size() + b) * bs, sendBlock(a, dst[b]), bs, {arrived[a]}));
      }
    }
    out->send(v.leaders()[static_cast<size_t>(h)], 0, pack, bytes, {joinAll(out, pack, copies)});
  }
  for (int t = 1; t < v.nhosts; ++t) {
    const int h = positiveMod(v.host - t, v.nhosts);
    const size_t bytes = v.ranksOf(h).size() * L * bs;
    packIn[static_cast<size_t>(h)] = ctx.scratch->take(bytes + 1);
    packArrived[static_cast<size_t>(h)] =
        out->recv(v.leaders()[static_cast<size_t>(h)], 0, packIn[static_cast<size_t>(h)], bytes, {});
  }
  // What local rank b receives from rank q, and when it is here.
  auto incoming = [&](int q, size_t b, int* ready) -> const char* {
    const int h = v.layout.hostOf[static_cast<size_t>(q)];
    const size_t a = static_cast<size_t>(v.layout.localRank[static_cast<size_t>(q)]);
    if (h == v.host) {
      *ready = arrived[a];
      return sendBlock(a, line[b]);
    }
    *ready = packArrived[static_cast<size_t>(h)];
    return packIn[static_cast<size_t>(h)] + (a * L + b) * bs;
  };
  for (size_t b = 0; b < L; ++b) {
    char* dest = b == 0 ? output : ctx.scratch->take(n * bs + 1);
    std::vector<int> copies;
    for (size_t q = 0; q < n; ++q) {
      int ready = -1;
      const char* src = incoming(static_cast<int>(q), b, &ready);
      copies.push_back(out->copy(dest + q * bs, src, bs, {ready, arrived[0]}));
    }
    if (b > 0) out->send(line[b], 0, dest, n * bs, {joinAll(out, dest, copies)});
  }
  return Status::ok();
}

}  // namespace mrd::algo
