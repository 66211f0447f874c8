// Rabenseifner reduce-scatter: recursive halving over the rank blocks.
// Index v stands for ranks [firstOf(v), firstOf(v + 1)), whose blocks are
// contiguous, so every round swaps one contiguous range. The last round
// writes this rank's block straight into recvbuf; a fold pair's odd rank
// also finishes its partner's block and sends it over.
#include "recursive/recursive.h"

namespace mrd::algo {

Status buildRabenseifnerReduceScatter(const CollRequest& req, const PlanContext& ctx,
                                      Schedule* out) {
  const int n = ctx.nranks, r = ctx.rank;
  const size_t ts = dataTypeSize(req.type);
  const size_t count = req.count, block = count * ts;
  const size_t total = count * static_cast<size_t>(n);
  const char* input = static_cast<const char*>(req.sendbuf);
  char* output = static_cast<char*>(req.recvbuf);
  char* acc = nullptr;  // partial results, laid out like the input
  int inputReady = -1;
  if (req.reduce.preMultiply) {
    acc = ctx.scratch->take(total * ts);
    inputReady = scaleInput(req, acc, input, total, out);
    input = acc;
  }
  if (n == 1) {
    int cp = out->copy(output, input, block, {inputReady});
    divideOutput(req, output, count, cp >= 0 ? cp : inputReady, out);
    return Status::ok();
  }
  if (count == 0) return Status::ok();

  const Fold f(n, r);
  const Lanes lanes{0, ctx.nchannels};
  if (f.out()) {
    // recvbuf may lie inside the input (in place): receive once it is sent.
    std::vector<int> sent = sendPieces(f.partner, input, total, ts, lanes, ctx, inputReady, out);
    recvPieces(f.partner, output, count, ts, lanes, ctx, joinSteps(sent, out), out);
    return Status::ok();
  }
  if (acc == nullptr) acc = ctx.scratch->take(total * ts);
  const char* cur = input;
  int ready = inputReady;
  if (f.partner >= 0) {
    char* theirs = ctx.scratch->take(total * ts);
    std::vector<int> got = recvPieces(f.partner, theirs, total, ts, lanes, ctx, -1, out);
    std::vector<Range> pieces = cutMessage(total, ts, lanes, ctx);
    std::vector<int> reduced;
    for (size_t i = 0; i < pieces.size(); ++i) {
      const size_t off = pieces[i].begin * ts;
      reduced.push_back(out->reduce(acc + off, theirs + off, cur + off, pieces[i].count,
                                    {got[i], ready}));  // partner is lower
    }
    ready = joinSteps(reduced, out);
    cur = acc;
  }
  std::vector<size_t> bounds(static_cast<size_t>(f.p) + 1);
  for (int w = 0; w <= f.p; ++w) {
    bounds[static_cast<size_t>(w)] = static_cast<size_t>(f.firstOf(w)) * count;
  }
  HalvingResult h = halvingReduceScatter(f, bounds, ts, lanes, ctx, cur, ready, acc,
                                         Range{static_cast<size_t>(r) * count, count}, output, out);
  divideOutput(req, output, count, h.ready, out);
  if (f.partner >= 0) {
    char* theirs = acc + static_cast<size_t>(f.partner) * block;
    int done = divideOutput(req, theirs, count, h.ready, out);
    sendPieces(f.partner, theirs, count, ts, lanes, ctx, done, out);
  }
  return Status::ok();
}

}  // namespace mrd::algo
