// Schedule building blocks shared by the Bruck algorithms: joining step
// dependencies, messages cut over channels, circular block ranges and
// merged copies.
#pragma once

#include <algorithm>
#include <cstddef>

#include "common/partition.h"

namespace mrd::algo::bruck {

// ceil(log2 n): the rounds of a Bruck exchange among n ranks.
inline int roundsFor(size_t n) {
  int k = 0;
  while ((size_t{1} << k) < n) ++k;
  return k;
}

// A step that is done once a and b are (-1: nothing to wait for). Schedule
// dependencies are fixed lists, so waiting for many steps is a chain of
// these; when both are real steps it is a local step that moves no data.
inline int join(Schedule* out, int a, int b) {
  if (a < 0) return b;
  if (b < 0 || a == b) return a;
  static char anchor;
  Step s{StepKind::kCopy};
  s.dst = &anchor;
  s.a = &anchor;
  s.bytes = 0;
  return out->add(s, {a, b});
}

// One logical message, cut into equal byte ranges over the channels its
// size is worth. Both ends cut the same way from the same byte count.
inline void sendMessage(Schedule* out, const PlanContext& ctx, int peer, const char* src,
                        size_t bytes, int dep) {
  const int nch = channelsFor(bytes, ctx);
  for (int c = 0; c < nch; ++c) {
    Range p = evenPart(bytes, static_cast<size_t>(nch), static_cast<size_t>(c));
    out->send(peer, c, src + p.begin, p.count, {dep});
  }
}

// Receives what sendMessage sent; returns a step done once all of it arrived.
inline int recvMessage(Schedule* out, const PlanContext& ctx, int peer, char* dst, size_t bytes,
                       int dep) {
  const int nch = channelsFor(bytes, ctx);
  int done = -1;
  for (int c = 0; c < nch; ++c) {
    Range p = evenPart(bytes, static_cast<size_t>(nch), static_cast<size_t>(c));
    done = join(out, done, out->recv(peer, c, dst + p.begin, p.count, {dep}));
  }
  return done;
}

// Blocks [first, first + len) of a buffer of n blocks taken circularly: at
// most two contiguous pieces. `skip` is where a piece starts in the run.
struct Piece {
  size_t block = 0;
  size_t blocks = 0;
  size_t skip = 0;
};

inline int circularPieces(size_t first, size_t len, size_t n, Piece out[2]) {
  const size_t head = std::min(len, n - first);
  out[0] = Piece{first, head, 0};
  if (head == len) return 1;
  out[1] = Piece{0, len - head, head};
  return 2;
}

// Copies added one block at a time, emitted as few steps: a copy that
// continues the pending one at both ends and waits for the same step is
// merged into it. Each emitted copy also waits for `extraDep`, and with
// `chain` for the copy emitted before it, so that the last stands for all.
class CopyBatch {
 public:
  CopyBatch(Schedule* out, bool chain, int extraDep) : out_(out), chain_(chain), extra_(extraDep) {}
  ~CopyBatch() { flush(); }

  void add(char* dst, const char* src, size_t bytes, int dep) {
    if (bytes_ > 0 && dst == dst_ + bytes_ && src == src_ + bytes_ && dep == dep_) {
      bytes_ += bytes;
      return;
    }
    flush();
    dst_ = dst;
    src_ = src;
    bytes_ = bytes;
    dep_ = dep;
  }

  // Emits the pending copy; returns the last copy step emitted (-1: none).
  int flush() {
    if (bytes_ == 0) return last_;
    int s = out_->copy(dst_, src_, bytes_, {dep_, extra_, chain_ ? last_ : -1});
    if (s >= 0) last_ = s;
    bytes_ = 0;
    return last_;
  }

 private:
  Schedule* out_;
  bool chain_;
  int extra_;
  int last_ = -1;
  char* dst_ = nullptr;
  const char* src_ = nullptr;
  size_t bytes_ = 0;
  int dep_ = -1;
};

}  // namespace mrd::algo::bruck
