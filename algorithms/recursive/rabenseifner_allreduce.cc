// Rabenseifner allreduce: a reduce-scatter by recursive halving (each round
// swaps half of what is left with the index at distance p/2, p/4, ...)
// leaves index v with block v of p fully reduced; an allgather by recursive
// doubling then spreads the blocks. 2 log2(p) messages, about 2B bytes sent
// per rank. Each channel runs the algorithm on its own share of the buffer.
#include "recursive/recursive.h"

namespace mrd::algo {
namespace {

void buildChannel(const CollRequest& req, const PlanContext& ctx, int channel, Range part,
                  const char* input, int inputReady, Schedule* out) {
  const Fold f(ctx.nranks, ctx.rank);
  const size_t ts = dataTypeSize(req.type);
  const size_t bytes = part.count * ts;
  const char* in = input + part.begin * ts;
  char* result = static_cast<char*>(req.recvbuf) + part.begin * ts;
  const char* cur = in;
  int ready = inputReady;
  if (!foldInAllReduce(f, channel, in, result, part.count, ts, ctx, &cur, &ready, out)) return;
  std::vector<size_t> bounds(static_cast<size_t>(f.p) + 1, part.count);
  for (int w = 0; w < f.p; ++w) {
    bounds[static_cast<size_t>(w)] =
        evenPart(part.count, static_cast<size_t>(f.p), static_cast<size_t>(w)).begin;
  }
  const Lanes lanes{channel, 1};
  HalvingResult h = halvingReduceScatter(f, bounds, ts, lanes, ctx, cur, ready, result, Range{},
                                         nullptr, out);
  const Range mine = boundsSpan(bounds, f.index, f.index + 1);
  ready = divideOutput(req, result + mine.begin * ts, mine.count, h.ready, out);
  // What the allgather receives was sent from result during the halving.
  ready = doublingAllGather(f, bounds, ts, lanes, ctx, result, ready, h.sent, out);
  if (f.partner >= 0) out->send(f.partner, channel, result, bytes, {ready});
}

}  // namespace

Status buildRabenseifnerAllReduce(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  return buildAllReducePerChannel(req, ctx, buildChannel, out);
}

}  // namespace mrd::algo
