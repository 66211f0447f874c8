// Ring allgather: at step s each rank passes on the block it received at
// step s-1 (its own at step 0). Channels take equal shares of every block;
// slices pipeline the steps.
#include "common/partition.h"
#include "ring/ring.h"

namespace mrd::algo {

Status buildRingAllGather(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const int n = ctx.nranks, r = ctx.rank;
  const int next = positiveMod(r + 1, n), prev = positiveMod(r - 1, n);
  const size_t ts = dataTypeSize(req.type);
  const size_t block = req.count * ts;
  char* output = static_cast<char*>(req.recvbuf);
  const char* input = static_cast<const char*>(req.sendbuf);
  out->copy(output + static_cast<size_t>(r) * block, input, block, {});
  if (n == 1) return Status::ok();

  const int nch = channelsFor(block * static_cast<size_t>(n), ctx);
  for (int c = 0; c < nch; ++c) {
    Range part = evenPart(req.count, static_cast<size_t>(nch), static_cast<size_t>(c));
    size_t ns = sliceCount(part.count, ts, ctx);
    std::vector<int> arrived(ns, -1);  // recv steps of the previous ring step
    for (int s = 0; s < n - 1; ++s) {
      const size_t sb = static_cast<size_t>(positiveMod(r - s, n));
      const size_t rb = static_cast<size_t>(positiveMod(r - s - 1, n));
      for (size_t k = 0; k < ns; ++k) {
        Range sl = evenPart(part.count, ns, k);
        size_t off = (part.begin + sl.begin) * ts;
        const char* src = s == 0 ? input + off : output + sb * block + off;
        out->send(next, c, src, sl.count * ts, {arrived[k]});
      }
      for (size_t k = 0; k < ns; ++k) {
        Range sl = evenPart(part.count, ns, k);
        size_t off = (part.begin + sl.begin) * ts;
        arrived[k] = out->recv(prev, c, output + rb * block + off, sl.count * ts, {});
      }
    }
  }
  return Status::ok();
}

}  // namespace mrd::algo
