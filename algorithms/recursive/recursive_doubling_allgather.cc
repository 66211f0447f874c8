// Recursive doubling allgather: in round k every index swaps everything it
// has gathered so far (the blocks of 2^k indices, contiguous in the output)
// with index ^ 2^k. A folded-out rank first hands its block to its partner
// and gets the whole output back at the end.
#include "recursive/recursive.h"

namespace mrd::algo {

Status buildRecursiveDoublingAllGather(const CollRequest& req, const PlanContext& ctx,
                                       Schedule* out) {
  const int n = ctx.nranks, r = ctx.rank;
  const size_t ts = dataTypeSize(req.type);
  const size_t count = req.count, block = count * ts;
  const char* input = static_cast<const char*>(req.sendbuf);
  char* output = static_cast<char*>(req.recvbuf);
  // In place (input is our block of the output) there is nothing to copy.
  const int own = out->copy(output + static_cast<size_t>(r) * block, input, block, {});
  if (n == 1 || count == 0) return Status::ok();

  const Fold f(n, r);
  const Lanes lanes{0, ctx.nchannels};
  const size_t total = count * static_cast<size_t>(n);
  if (f.out()) {
    std::vector<int> sent = sendPieces(f.partner, input, count, ts, lanes, ctx, -1, out);
    sent.push_back(own);
    // The whole output comes back, our block included (it may be the input).
    recvPieces(f.partner, output, total, ts, lanes, ctx, joinSteps(sent, out), out);
    return Status::ok();
  }
  int ready = own;
  if (f.partner >= 0) {
    std::vector<int> got = recvPieces(f.partner, output + static_cast<size_t>(f.partner) * block,
                                      count, ts, lanes, ctx, -1, out);
    got.push_back(own);
    ready = joinSteps(got, out);
  }
  std::vector<size_t> bounds(static_cast<size_t>(f.p) + 1);
  for (int w = 0; w <= f.p; ++w) {
    bounds[static_cast<size_t>(w)] = static_cast<size_t>(f.firstOf(w)) * count;
  }
  ready = doublingAllGather(f, bounds, ts, lanes, ctx, output, ready, {}, out);
  if (f.partner >= 0) sendPieces(f.partner, output, total, ts, lanes, ctx, ready, out);
  return Status::ok();
}

}  // namespace mrd::algo
