// The data of one soak operation, computed independently on every rank:
// each rank's input elements are hashes of (seed, operation, rank, element),
// and the expected result of a reduction is computed here from every rank's
// inputs.
//
// Values are chosen so every reduction is exact in its datatype, whatever
// the order in which the library combines them: sums of integers (times a
// power of two for the float types) whose every partial sum stays within the
// integers the type holds exactly (ranks feed an element sparsely when the
// type is small: fp8, bfloat16, int8); products of 1, 2, 0 and -1 with at
// most log2(limit) factors of 2; max and min of random bit patterns (every
// finite value of the float types, the full range of the integers); avg of
// sums that are a multiple of the rank count (one rank's input makes up the
// remainder), so the quotient is exact; the pre-multiplied sum with
// integer scalars 1, 2, 3 (and -1 for signed types). Data movement uses
// raw random bits. Everything is compared exactly: bits for integers and
// moved data, values for float results (so -0 equals +0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "meridian/meridian.h"
#include "soak/random_op.h"

namespace soak {

// Whether `op` (an mrdRedOp_t or kPreMulSum) can be checked exactly on
// `type` with `nranks` ranks (avg needs room for a multiple of nranks).
bool OpExact(mrdDataType_t type, int op, int nranks);

class Values {
 public:
  Values(const OpSpec& op, int nranks);

  // The bits (in the low bytes) of element `index` of rank `rank`'s input.
  uint64_t Input(int rank, size_t index) const;
  // dst[k] = element first + k of rank's input, k < count.
  void Fill(unsigned char* dst, int rank, size_t first, size_t count) const;

  bool MatchesInput(const unsigned char* elem, int rank, size_t index) const;
  // Whether elem is the reduction over every rank's element `index`.
  bool MatchesReduced(const unsigned char* elem, size_t index) const;

  // For messages.
  std::string InputText(int rank, size_t index) const;
  std::string ReducedText(size_t index) const;
  std::string ElemText(const unsigned char* elem) const;

  // The pre-multiplied sum's scalar of `rank`, encoded in the type.
  uint64_t ScalarBits(int rank) const;

 private:
  enum class Kind { kMove, kSum, kProd, kMaxMin };

  uint64_t Hash(int rank, size_t index) const;
  int64_t SumValue(int rank, size_t index) const;
  int64_t ProdValue(int rank, size_t index) const;
  uint64_t MaxMinBits(int rank, size_t index) const;
  int64_t Weight(int rank) const;
  int64_t ReducedInt(size_t index) const;  // kSum, kProd
  uint64_t ReducedBits(size_t index) const;
  uint64_t EncodeInt(int64_t v) const;
  bool Less(uint64_t a, uint64_t b) const;
  std::string BitsText(uint64_t bits) const;

  mrdDataType_t type_;
  int op_;
  int nranks_;
  Kind kind_;
  size_t size_;
  uint64_t mask_;
  bool is_float_;
  bool is_signed_;  // signed integer or float: values may be negative
  int scale_exp_ = 0;
  uint64_t mod_ = 1;  // rank r feeds element i when (r + i) % mod_ == 0
  int64_t max_ = 0;   // sums: |value| <= max_
  std::vector<uint64_t> rank_keys_;
};

}  // namespace soak
