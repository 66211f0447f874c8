// Ring reduce-scatter: block b travels the ring starting at rank b+1 and
// picks up every rank's contribution, ending fully reduced at rank b.
// Partial sums live in rotating accumulation slots until passed on.
#include "common/partition.h"
#include "ring/ring.h"

namespace mrd::algo {

Status buildRingReduceScatter(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const int n = ctx.nranks, r = ctx.rank;
  const int next = positiveMod(r + 1, n), prev = positiveMod(r - 1, n);
  const size_t ts = dataTypeSize(req.type);
  const size_t block = req.count * ts;
  const size_t total = req.count * static_cast<size_t>(n);
  char* output = static_cast<char*>(req.recvbuf);
  const char* input = static_cast<const char*>(req.sendbuf);
  int inputReady = -1;
  if (req.reduce.preMultiply) {
    char* scaled = ctx.scratch->take(total * ts);
    inputReady = scaleInput(req, scaled, input, total, out);
    input = scaled;
  }
  if (n == 1) {
    int cp = out->copy(output, input, block, {inputReady});
    divideOutput(req, output, req.count, cp >= 0 ? cp : inputReady, out);
    return Status::ok();
  }

  const int nch = channelsFor(block * static_cast<size_t>(n), ctx);
  for (int c = 0; c < nch; ++c) {
    Range part = evenPart(req.count, static_cast<size_t>(nch), static_cast<size_t>(c));
    size_t ns = sliceCount(part.count, ts, ctx);
    SlotRing recvSlots(ctx, ts);
    // Partial sums alternate between two buffers of this channel's share:
    // step s writes acc[s % 2] while its sends still read acc[(s + 1) % 2].
    char* acc[2] = {ctx.scratch->take(part.count * ts + ts), ctx.scratch->take(part.count * ts + ts)};
    std::vector<int> partialReady(ns, inputReady), lastSend(ns, -1), prevSend(ns, -1);
    for (int s = 0; s < n - 1; ++s) {
      const size_t sb = static_cast<size_t>(positiveMod(r - s - 1, n));
      const size_t rb = static_cast<size_t>(positiveMod(r - s - 2, n));
      const bool last = s == n - 2;  // rb == r: the result lands in recvbuf
      for (size_t k = 0; k < ns; ++k) {
        Range sl = evenPart(part.count, ns, k);
        const char* src = s == 0 ? input + sb * block + (part.begin + sl.begin) * ts
                                 : acc[(s + 1) % 2] + sl.begin * ts;
        prevSend[k] = lastSend[k];
        lastSend[k] = out->send(next, c, src, sl.count * ts, {partialReady[k]});
      }
      for (size_t k = 0; k < ns; ++k) {
        Range sl = evenPart(part.count, ns, k);
        int slotFree = -1;
        char* slot = recvSlots.next(&slotFree);
        int got = out->recv(prev, c, slot, sl.count * ts, {slotFree});
        char* dst = last ? output + (part.begin + sl.begin) * ts : acc[s % 2] + sl.begin * ts;
        // acc[s % 2] was last read by the sends of step s - 1.
        int red = out->reduce(dst, input + rb * block + (part.begin + sl.begin) * ts, slot,
                              sl.count, {got, inputReady, prevSend[k]});
        recvSlots.setUser(red);
        partialReady[k] = last ? divideOutput(req, dst, sl.count, red, out) : red;
      }
    }
  }
  return Status::ok();
}

}  // namespace mrd::algo
