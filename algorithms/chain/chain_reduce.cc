#include "chain/chain.h"
#include "common/partition.h"

namespace mrd::algo {

Status buildChainReduce(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const int n = ctx.nranks, r = ctx.rank;
  // Data flows from position n-1 down to position 0, the root.
  const int pos = positiveMod(r - req.root, n);
  const int from = positiveMod(r + 1, n), to = positiveMod(r - 1, n);
  const size_t ts = dataTypeSize(req.type);
  const size_t bytes = req.count * ts;
  char* output = static_cast<char*>(req.recvbuf);
  const ReductionInput in = prepareRootedReductionInput(req, ctx, out);
  const char* input = in.data;
  const int inputReady = in.ready;
  if (n == 1) {
    reduceOnOneRank(req, in, output, out);
    return Status::ok();
  }

  const int nch = channelsFor(bytes, ctx);
  for (int c = 0; c < nch; ++c) {
    Range part = evenPart(req.count, static_cast<size_t>(nch), static_cast<size_t>(c));
    size_t ns = sliceCount(part.count, ts, ctx);
    SlotRing recvSlots(ctx, ts), accSlots(ctx, ts);
    for (size_t k = 0; k < ns; ++k) {
      Range sl = evenPart(part.count, ns, k);
      size_t off = (part.begin + sl.begin) * ts, len = sl.count * ts;
      if (pos == n - 1) {
        out->send(to, c, input + off, len, {inputReady});
        continue;
      }
      int slotFree = -1, accFree = -1;
      char* slot = recvSlots.next(&slotFree);
      int got = out->recv(from, c, slot, len, {slotFree});
      char* dst = pos == 0 ? output + off : accSlots.next(&accFree);
      int red = out->reduce(dst, input + off, slot, sl.count, {got, inputReady, accFree});
      recvSlots.setUser(red);
      if (pos == 0) {
        divideOutput(req, dst, sl.count, red, out);
      } else {
        accSlots.setUser(out->send(to, c, dst, len, {red}));
      }
    }
  }
  return Status::ok();
}

}  // namespace mrd::algo
