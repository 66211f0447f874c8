// Ring allreduce: a reduce-scatter then an allgather around the ring,
// each channel on its own share of the buffer, every chunk cut into slices
// that flow independently so the ring stays busy (pipelining).
#include "common/partition.h"
#include "ring/ring.h"

namespace mrd::algo {
namespace {

struct Chunks {
  std::vector<Range> range;              // [chunk], elements
  std::vector<std::vector<Range>> slice;  // [chunk][slice], elements
  std::vector<std::vector<int>> produced;  // last step that wrote the slice
  std::vector<std::vector<int>> lastRead;  // last send that read it from recvbuf
};

Chunks cutChunks(Range part, int n, size_t ts, const PlanContext& ctx) {
  Chunks c;
  for (int j = 0; j < n; ++j) {
    Range r = evenPart(part.count, static_cast<size_t>(n), static_cast<size_t>(j));
    r.begin += part.begin;
    c.range.push_back(r);
    size_t ns = sliceCount(r.count, ts, ctx);
    std::vector<Range> slices;
    for (size_t k = 0; k < ns; ++k) {
      Range s = evenPart(r.count, ns, k);
      s.begin += r.begin;
      slices.push_back(s);
    }
    c.slice.push_back(slices);
    c.produced.emplace_back(ns, -1);
    c.lastRead.emplace_back(ns, -1);
  }
  return c;
}

void buildChannel(const CollRequest& req, const PlanContext& ctx, int channel, Range part,
                  const char* input, int inputReady, Schedule* out) {
  const int n = ctx.nranks, r = ctx.rank;
  const int next = positiveMod(r + 1, n), prev = positiveMod(r - 1, n);
  const size_t ts = dataTypeSize(req.type);
  char* output = static_cast<char*>(req.recvbuf);
  Chunks ch = cutChunks(part, n, ts, ctx);
  SlotRing slots(ctx, ts);

  // Reduce-scatter: after n-1 steps this rank holds chunk r+1 fully reduced.
  for (int s = 0; s < n - 1; ++s) {
    const size_t sc = static_cast<size_t>(positiveMod(r - s, n));
    const size_t rc = static_cast<size_t>(positiveMod(r - s - 1, n));
    for (size_t k = 0; k < ch.slice[sc].size(); ++k) {
      const Range& sl = ch.slice[sc][k];
      const char* src = (s == 0 ? input : output) + sl.begin * ts;
      int dep = s == 0 ? inputReady : ch.produced[sc][k];
      ch.lastRead[sc][k] = out->send(next, channel, src, sl.count * ts, {dep});
    }
    for (size_t k = 0; k < ch.slice[rc].size(); ++k) {
      const Range& sl = ch.slice[rc][k];
      int slotFree = -1;
      char* slot = slots.next(&slotFree);
      int got = out->recv(prev, channel, slot, sl.count * ts, {slotFree});
      int red = out->reduce(output + sl.begin * ts, input + sl.begin * ts, slot, sl.count,
                            {got, inputReady});
      slots.setUser(red);
      ch.produced[rc][k] = red;
    }
  }
  const size_t owned = static_cast<size_t>(positiveMod(r + 1, n));
  for (size_t k = 0; k < ch.slice[owned].size(); ++k) {
    const Range& sl = ch.slice[owned][k];
    ch.produced[owned][k] =
        divideOutput(req, output + sl.begin * ts, sl.count, ch.produced[owned][k], out);
  }
  // Allgather of the reduced chunks.
  for (int s = 0; s < n - 1; ++s) {
    const size_t sc = static_cast<size_t>(positiveMod(r + 1 - s, n));
    const size_t rc = static_cast<size_t>(positiveMod(r - s, n));
    for (size_t k = 0; k < ch.slice[sc].size(); ++k) {
      const Range& sl = ch.slice[sc][k];
      ch.lastRead[sc][k] = out->send(next, channel, output + sl.begin * ts, sl.count * ts,
                                     {ch.produced[sc][k]});
    }
    for (size_t k = 0; k < ch.slice[rc].size(); ++k) {
      const Range& sl = ch.slice[rc][k];
      ch.produced[rc][k] = out->recv(prev, channel, output + sl.begin * ts, sl.count * ts,
                                     {ch.lastRead[rc][k], ch.produced[rc][k]});
    }
  }
}

}  // namespace

Status buildRingAllReduce(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const size_t ts = dataTypeSize(req.type);
  const size_t bytes = req.count * ts;
  const ReductionInput in = prepareReductionInput(req, req.recvbuf, out);
  const char* input = in.data;
  const int inputReady = in.ready;
  if (ctx.nranks == 1) {
    reduceOnOneRank(req, in, req.recvbuf, out);
    return Status::ok();
  }
  const int nch = channelsFor(bytes, ctx);
  for (int c = 0; c < nch; ++c) {
    buildChannel(req, ctx, c, evenPart(req.count, static_cast<size_t>(nch), static_cast<size_t>(c)),
                 input, inputReady, out);
  }
  return Status::ok();
}

}  // namespace mrd::algo
