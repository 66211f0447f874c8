// The parts shared by the recursive algorithms: the fold onto a power of
// two, messages cut across channels, recursive halving (reduce-scatter)
// and recursive doubling (allgather) over index ranges.
#include "recursive/recursive.h"

namespace mrd::algo {

Fold::Fold(int nranks, int r) : n(nranks), rank(r) {
  while (p * 2 <= n) {
    p *= 2;
    ++logp;
  }
  rem = n - p;
  if (r < 2 * rem) {
    partner = r % 2 == 0 ? r + 1 : r - 1;
    index = r % 2 == 0 ? -1 : r / 2;
  } else {
    index = r - rem;
  }
}

std::vector<Range> cutMessage(size_t count, size_t typeSize, Lanes lanes, const PlanContext& ctx) {
  std::vector<Range> pieces;
  if (count == 0) return pieces;
  size_t nch = std::min<size_t>(static_cast<size_t>(std::max(lanes.count, 1)),
                                static_cast<size_t>(channelsFor(count * typeSize, ctx)));
  nch = std::min(nch, count);
  for (size_t i = 0; i < nch; ++i) pieces.push_back(evenPart(count, nch, i));
  return pieces;
}

std::vector<int> sendPieces(int peer, const char* at, size_t count, size_t typeSize, Lanes lanes,
                            const PlanContext& ctx, int dep, Schedule* out) {
  std::vector<int> steps;
  std::vector<Range> pieces = cutMessage(count, typeSize, lanes, ctx);
  for (size_t i = 0; i < pieces.size(); ++i) {
    const int channel = lanes.first + static_cast<int>(i);
    steps.push_back(out->send(peer, channel, at + pieces[i].begin * typeSize,
                              pieces[i].count * typeSize, {dep}));
  }
  return steps;
}

std::vector<int> recvPieces(int peer, char* at, size_t count, size_t typeSize, Lanes lanes,
                            const PlanContext& ctx, int dep, Schedule* out) {
  std::vector<int> steps;
  std::vector<Range> pieces = cutMessage(count, typeSize, lanes, ctx);
  for (size_t i = 0; i < pieces.size(); ++i) {
    const int channel = lanes.first + static_cast<int>(i);
    steps.push_back(out->recv(peer, channel, at + pieces[i].begin * typeSize,
                              pieces[i].count * typeSize, {dep}));
  }
  return steps;
}

int joinSteps(const std::vector<int>& deps, Schedule* out) {
  static char nothing;  // a zero-byte copy moves nothing
  int joined = -1;
  for (int d : deps) {
    if (d < 0) continue;
    if (joined < 0) {
      joined = d;
      continue;
    }
    Step s{StepKind::kCopy};
    s.dst = &nothing;
    s.a = &nothing;
    s.bytes = 0;
    joined = out->add(s, {joined, d});
  }
  return joined;
}

HalvingResult halvingReduceScatter(const Fold& f, const std::vector<size_t>& bounds,
                                   size_t typeSize, Lanes lanes, const PlanContext& ctx,
                                   const char* cur, int curReady, char* acc, Range finalRange,
                                   char* finalDst, Schedule* out) {
  const size_t ts = typeSize;
  const int v = f.index;
  HalvingResult res;
  res.sent.assign(static_cast<size_t>(f.logp), -1);
  const char* src = cur;
  int ready = curReady;
  // Distance p/2 first, so index v ends up with range v.
  for (int k = f.logp - 1; k >= 0; --k) {
    const int m = 1 << k;
    const int peer = f.rankOf(v ^ m);
    const bool lower = (v & m) == 0;
    const int base = v & ~(2 * m - 1);
    const Range low = boundsSpan(bounds, base, base + m);
    const Range high = boundsSpan(bounds, base + m, base + 2 * m);
    const Range keep = lower ? low : high, give = lower ? high : low;
    std::vector<int> sent =
        sendPieces(peer, src + give.begin * ts, give.count, ts, lanes, ctx, ready, out);
    if (src == acc) res.sent[static_cast<size_t>(k)] = joinSteps(sent, out);
    char* tmp = ctx.scratch->take(keep.count * ts);
    std::vector<int> got = recvPieces(peer, tmp, keep.count, ts, lanes, ctx, -1, out);
    std::vector<Range> pieces = cutMessage(keep.count, ts, lanes, ctx);
    std::vector<int> reduced;
    for (size_t i = 0; i < pieces.size(); ++i) {
      // Elements [b, e) of the whole; the lower half's data is the first operand.
      const size_t b = keep.begin + pieces[i].begin, e = b + pieces[i].count;
      auto reduceInto = [&](size_t from, size_t to, char* dst) {
        if (to <= from) return;
        const char* mineAt = src + from * ts;
        const char* theirsAt = tmp + (from - keep.begin) * ts;
        reduced.push_back(out->reduce(dst, lower ? mineAt : theirsAt, lower ? theirsAt : mineAt,
                                      to - from, {got[i], ready}));
      };
      if (k > 0 || finalDst == nullptr) {
        reduceInto(b, e, acc + b * ts);
        continue;
      }
      const size_t fb = std::min(std::max(finalRange.begin, b), e);
      const size_t fe = std::min(std::max(finalRange.begin + finalRange.count, fb), e);
      reduceInto(b, fb, acc + b * ts);
      reduceInto(fb, fe, finalDst + (fb - finalRange.begin) * ts);
      reduceInto(fe, e, acc + fe * ts);
    }
    if (!reduced.empty()) ready = joinSteps(reduced, out);
    src = acc;
  }
  res.ready = ready;
  return res;
}

int doublingAllGather(const Fold& f, const std::vector<size_t>& bounds, size_t typeSize,
                      Lanes lanes, const PlanContext& ctx, char* buf, int ready,
                      const std::vector<int>& before, Schedule* out) {
  const size_t ts = typeSize;
  const int v = f.index;
  for (int k = 0; k < f.logp; ++k) {
    const int m = 1 << k;
    const int w = v ^ m;
    const Range mine = boundsSpan(bounds, v & ~(m - 1), (v & ~(m - 1)) + m);
    const Range theirs = boundsSpan(bounds, w & ~(m - 1), (w & ~(m - 1)) + m);
    const int peer = f.rankOf(w);
    sendPieces(peer, buf + mine.begin * ts, mine.count, ts, lanes, ctx, ready, out);
    const size_t uk = static_cast<size_t>(k);
    const int mustWait = uk < before.size() ? before[uk] : -1;
    std::vector<int> got =
        recvPieces(peer, buf + theirs.begin * ts, theirs.count, ts, lanes, ctx, mustWait, out);
    got.push_back(ready);
    ready = joinSteps(got, out);
  }
  return ready;
}

Status buildAllReducePerChannel(const CollRequest& req, const PlanContext& ctx,
                                AllReduceChannelBuilder buildChannel, Schedule* out) {
  const ReductionInput in = prepareReductionInput(req, req.recvbuf, out);
  if (ctx.nranks == 1) {
    reduceOnOneRank(req, in, req.recvbuf, out);
    return Status::ok();
  }
  if (req.count == 0) return Status::ok();
  const int nch = channelsFor(req.count * dataTypeSize(req.type), ctx);
  for (int c = 0; c < nch; ++c) {
    buildChannel(req, ctx, c, evenPart(req.count, static_cast<size_t>(nch), static_cast<size_t>(c)),
                 in.data, in.ready, out);
  }
  return Status::ok();
}

bool foldInAllReduce(const Fold& f, int channel, const char* in, char* result, size_t count,
                     size_t typeSize, const PlanContext& ctx, const char** cur, int* ready,
                     Schedule* out) {
  const size_t bytes = count * typeSize;
  if (f.out()) {
    // Hand the input over, get the result back (into what may be the
    // input's memory, so only after the send is done).
    int sent = out->send(f.partner, channel, in, bytes, {*ready});
    out->recv(f.partner, channel, result, bytes, {sent});
    return false;
  }
  *cur = in;
  if (f.partner >= 0) {
    char* theirs = ctx.scratch->take(bytes);
    int got = out->recv(f.partner, channel, theirs, bytes, {});
    *ready = out->reduce(result, theirs, in, count, {got, *ready});  // partner is lower
    *cur = result;
  }
  return true;
}

}  // namespace mrd::algo
