// Recursive doubling allreduce: in round k every index exchanges its whole
// partial result with index ^ 2^k and combines the two, lower group first,
// so after log2(p) rounds all hold the reduction of every rank. Latency of
// log2(p) messages (plus two for a fold), but every round moves the whole
// buffer: meant for small buffers. Each channel runs the algorithm on its
// own share of the buffer.
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
  // Two receive buffers in turn: round k's may be reused once the reduce
  // of round k - 2 has read it.
  char* recvBuf[2] = {ctx.scratch->take(bytes), ctx.scratch->take(bytes)};
  int recvFree[2] = {-1, -1};
  for (int k = 0; k < f.logp; ++k) {
    const int m = 1 << k;
    const int peer = f.rankOf(f.index ^ m);
    const bool lower = (f.index & m) == 0;
    char* theirs = recvBuf[k % 2];
    int sent = out->send(peer, channel, cur, bytes, {ready});
    int got = out->recv(peer, channel, theirs, bytes, {recvFree[k % 2]});
    // When cur is the result, the reduce overwrites what the send reads.
    ready = out->reduce(result, lower ? cur : theirs, lower ? theirs : cur, part.count,
                        {got, ready, cur == result ? sent : -1});
    recvFree[k % 2] = ready;
    cur = result;
  }
  ready = divideOutput(req, result, part.count, ready, out);
  if (f.partner >= 0) out->send(f.partner, channel, result, bytes, {ready});
}

}  // namespace

Status buildRecursiveDoublingAllReduce(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  return buildAllReducePerChannel(req, ctx, buildChannel, out);
}

}  // namespace mrd::algo
