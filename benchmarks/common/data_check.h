// Deterministic inputs and exact checking of results.
//
// Reductions use small non-negative integers, sparse enough that every
// partial result is exact in the datatype (fp8 and half included) for any
// rank count and any order of combination; only the floating-point average
// is compared with a tolerance (2 ulps, as nccl-tests). Data movement uses
// hashed raw bytes and compares them bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "meridian/meridian.h"

namespace mrdperf {

// Where a received element's expected value comes from: element `index` of
// rank `rank`'s input, or (rank == kAllRanks) the reduction of element
// `index` over every rank's input.
constexpr int kAllRanks = -1;
struct Source {
  int rank;
  size_t index;
};

// What a collective's source function needs to know about the call.
struct Layout {
  int rank;
  int nranks;
  int root;
  size_t count;  // the count argument of the call
};
using SourceFn = Source (*)(size_t recv_index, const Layout& layout);

size_t TypeSize(mrdDataType_t type);

class Pattern {
 public:
  // op: an mrdRedOp_t or kMulSum for reductions; kNoOp for data movement.
  static constexpr int kNoOp = -1;
  Pattern(mrdDataType_t type, int op, int nranks, uint64_t seed);

  // buf[k] = element (first + k) of rank's input, for k < count.
  void Fill(void* buf, size_t count, int rank, size_t first) const;
  // The mulsum scalar of rank, encoded in the datatype (8 bytes of room).
  void Scalar(int rank, void* out) const;
  // Elements of buf[0, count) that differ from what source() says; the first
  // few mismatches go to stderr when MRD_PERF_DEBUG is set.
  int64_t CountWrong(const void* buf, size_t count, const Layout& layout, SourceFn source) const;
  // Bytes that no correct result contains (recv buffers start with this).
  static void Poison(void* buf, size_t bytes);

 private:
  int Value(int rank, size_t index) const;
  double Expected(size_t index) const;
  bool Matches(const unsigned char* elem, double expected) const;
  uint64_t Raw(int rank, size_t index) const;

  mrdDataType_t type_;
  int op_;
  int nranks_;
  uint64_t seed_;
  size_t size_;
  size_t modulus_ = 1;           // rank r feeds element i when (r + i) % modulus_ == 0
  int max_value_ = 0;            // inputs are in [0, max_value_]
  uint64_t encoded_[1001] = {};  // bits of the values 0..1000 in type_
};

}  // namespace mrdperf
