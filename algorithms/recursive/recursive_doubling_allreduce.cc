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
  if (f.out()) {
    // Folded out: hand the input to the partner, get the result back (into
    // what may be the input's memory, so after the send is done).
    int sent = out->send(f.partner, channel, in, bytes, {inputReady});
    out->recv(f.partner, channel, result, bytes, {sent});
    return;
  }
  const char* cur = in;
  int ready = inputReady;
  if (f.partner >= 0) {
    char* theirs = ctx.scratch->take(bytes);
    int got = out->recv(f.partner, channel, theirs, bytes, {});
    ready = out->reduce(result, theirs, cur, part.count, {got, ready});  // partner is lower
    cur = result;
  }
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

Status buildRecursiveDoublingAllReduce(const CollRequest& req, const PlanContext& ctx,
                                       Schedule* out) {
  const size_t ts = dataTypeSize(req.type);
  const size_t bytes = req.count * ts;
  const char* input = static_cast<const char*>(req.sendbuf);
  int inputReady = scaleInput(req, req.recvbuf, req.sendbuf, req.count, out);
  if (inputReady >= 0) input = static_cast<const char*>(req.recvbuf);
  if (ctx.nranks == 1) {
    int cp = out->copy(req.recvbuf, input, bytes, {inputReady});
    divideOutput(req, req.recvbuf, req.count, cp >= 0 ? cp : inputReady, out);
    return Status::ok();
  }
  if (req.count == 0) return Status::ok();
  const int nch = channelsFor(bytes, ctx);
  for (int c = 0; c < nch; ++c) {
    buildChannel(req, ctx, c, evenPart(req.count, static_cast<size_t>(nch), static_cast<size_t>(c)),
                 input, inputReady, out);
  }
  return Status::ok();
}

}  // namespace mrd::algo
