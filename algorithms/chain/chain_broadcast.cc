#include "chain/chain.h"
#include "common/partition.h"

namespace mrd::algo {

Status buildChainBroadcast(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const int n = ctx.nranks, r = ctx.rank;
  const int pos = positiveMod(r - req.root, n);  // 0 is the root
  const int next = positiveMod(r + 1, n), prev = positiveMod(r - 1, n);
  const size_t ts = dataTypeSize(req.type);
  const size_t bytes = req.count * ts;
  char* output = static_cast<char*>(req.recvbuf);
  if (pos == 0) out->copy(output, req.sendbuf, bytes, {});
  if (n == 1) return Status::ok();
  const char* source = pos == 0 ? static_cast<const char*>(req.sendbuf) : output;

  const int nch = channelsFor(bytes, ctx);
  for (int c = 0; c < nch; ++c) {
    Range part = evenPart(req.count, static_cast<size_t>(nch), static_cast<size_t>(c));
    size_t ns = sliceCount(part.count, ts, ctx);
    for (size_t k = 0; k < ns; ++k) {
      Range sl = evenPart(part.count, ns, k);
      size_t off = (part.begin + sl.begin) * ts, len = sl.count * ts;
      int got = pos == 0 ? -1 : out->recv(prev, c, output + off, len, {});
      if (pos < n - 1) out->send(next, c, source + off, len, {got});
    }
  }
  return Status::ok();
}

}  // namespace mrd::algo
