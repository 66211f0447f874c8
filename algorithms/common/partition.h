// How algorithms cut buffers: even element ranges, channels worth their
// overhead, and slices for pipelining. Every rank computes the same cuts
// from the same counts, which is what keeps the two ends of each message
// in agreement without talking.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "core/algorithm.h"
#include "core/datatype.h"

namespace mrd::algo {

struct Range {
  size_t begin = 0;  // elements
  size_t count = 0;
};

// Part i of `total` elements cut into `parts` nearly equal pieces.
inline Range evenPart(size_t total, size_t parts, size_t i) {
  size_t base = total / parts, extra = total % parts;
  size_t begin = i * base + std::min(i, extra);
  return Range{begin, base + (i < extra ? 1 : 0)};
}

inline int positiveMod(int a, int n) { return ((a % n) + n) % n; }

// Channels for a buffer of `bytes`: each must get at least channelMinBytes.
inline int channelsFor(size_t bytes, const PlanContext& ctx) {
  size_t byBytes = ctx.channelMinBytes == 0 ? 1 : bytes / ctx.channelMinBytes;
  return static_cast<int>(std::max<size_t>(1, std::min<size_t>(ctx.nchannels, byBytes)));
}

// The slices of a range of `count` elements (at least one, even when empty).
inline size_t sliceCount(size_t count, size_t typeSize, const PlanContext& ctx) {
  size_t bytes = count * typeSize;
  size_t n = (bytes + ctx.sliceBytes - 1) / ctx.sliceBytes;
  return std::max<size_t>(1, std::min(n, std::max<size_t>(count, 1)));
}

// Rotating scratch slots of sliceBytes (plus one element of slack): the
// step that last used a slot must finish before the slot is reused.
class SlotRing {
 public:
  SlotRing(const PlanContext& ctx, size_t typeSize)
      : slotBytes_(ctx.sliceBytes + typeSize),
        base_(ctx.scratch->take(slotBytes_ * static_cast<size_t>(ctx.sliceSlots))),
        lastUser_(static_cast<size_t>(ctx.sliceSlots), -1) {}
  // The next slot, and the step that must finish before it may be written.
  char* next(int* mustWait) {
    cur_ = (cur_ + 1) % lastUser_.size();
    *mustWait = lastUser_[cur_];
    return base_ + cur_ * slotBytes_;
  }
  void setUser(int step) { lastUser_[cur_] = step; }

 private:
  size_t slotBytes_;
  char* base_;
  std::vector<int> lastUser_;
  size_t cur_ = static_cast<size_t>(-1);
};

// Schedules the scale of a PreMulSum input into dst; returns the step (-1 if none).
inline int scaleInput(const CollRequest& req, void* dst, const void* src, size_t count,
                      Schedule* out) {
  if (!req.reduce.preMultiply) return -1;
  Step s{StepKind::kScale};
  s.dst = dst;
  s.a = src;
  s.count = count;
  return out->add(s);
}

inline int divideOutput(const CollRequest& req, void* buf, size_t count, int dep,
                        Schedule* out) {
  if (!req.reduce.average) return dep;
  Step s{StepKind::kDivide};
  s.dst = buf;
  s.count = count;
  return out->add(s, {dep});
}

// The input a reduction reads: sendbuf itself, or for PreMulSum its scaled
// copy written to `scaledInto` (recvbuf when every rank has one, scratch
// otherwise). `ready` is the step that produced it (-1: nothing to wait for).
struct ReductionInput {
  const char* data;
  int ready;
};

inline ReductionInput prepareReductionInput(const CollRequest& req, void* scaledInto,
                                            Schedule* out) {
  int ready = scaleInput(req, scaledInto, req.sendbuf, req.count, out);
  if (ready >= 0) return ReductionInput{static_cast<const char*>(scaledInto), ready};
  return ReductionInput{static_cast<const char*>(req.sendbuf), -1};
}

// Rooted reductions: a PreMulSum input is scaled into scratch, since a
// non-root rank may have no recvbuf.
inline ReductionInput prepareRootedReductionInput(const CollRequest& req, const PlanContext& ctx,
                                                  Schedule* out) {
  const size_t ts = dataTypeSize(req.type);
  return prepareReductionInput(
      req, req.reduce.preMultiply ? ctx.scratch->take(req.count * ts + ts) : nullptr, out);
}

// One rank: the result is the (scaled) input, averaged over one rank.
inline void reduceOnOneRank(const CollRequest& req, const ReductionInput& in, void* output,
                            Schedule* out) {
  int cp = out->copy(output, in.data, req.count * dataTypeSize(req.type), {in.ready});
  divideOutput(req, output, req.count, cp >= 0 ? cp : in.ready, out);
}

}  // namespace mrd::algo
