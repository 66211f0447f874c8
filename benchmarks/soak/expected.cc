#include "soak/expected.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/data_check.h"
#include "common/elements.h"

namespace soak {
namespace {

bool IsFloat(mrdDataType_t t) {
  return t == mrdFloat16 || t == mrdFloat32 || t == mrdFloat64 || t == mrdBfloat16 ||
         t == mrdFloat8e4m3 || t == mrdFloat8e5m2;
}

bool IsUnsigned(mrdDataType_t t) {
  return t == mrdUint8 || t == mrdUint32 || t == mrdUint64;
}

// Largest magnitude every partial sum may reach: all integers up to it are
// exact in the type (and, for the wide integers, far from overflow).
int64_t Budget(mrdDataType_t t) {
  switch (t) {
    case mrdInt8: return 127;
    case mrdUint8: return 255;
    case mrdInt32: return INT32_MAX;
    case mrdUint32: return UINT32_MAX;
    case mrdInt64:
    case mrdUint64: return int64_t{1} << 62;
    case mrdFloat16: return 2048;
    case mrdBfloat16: return 256;
    case mrdFloat8e4m3: return 16;
    case mrdFloat8e5m2: return 8;
    case mrdFloat32: return int64_t{1} << 24;
    case mrdFloat64: return int64_t{1} << 53;
    default: return 1;
  }
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

uint64_t ReadBits(const unsigned char* elem, size_t size) {
  uint64_t bits = 0;
  std::memcpy(&bits, elem, size);  // little-endian host
  return bits;
}

int Log2Floor(int64_t v) {
  int b = -1;
  while (v > 0) {
    v >>= 1;
    ++b;
  }
  return b;
}

}  // namespace

bool OpExact(mrdDataType_t type, int op, int nranks) {
  // avg: the fixing rank's input is up to nranks - 1 and others need room too.
  if (op == mrdAvg) return Budget(type) >= 2 * static_cast<int64_t>(nranks);
  return true;
}

Values::Values(const OpSpec& op, int nranks)
    : type_(op.type),
      op_(op.op),
      nranks_(nranks),
      size_(mrdperf::TypeSize(op.type)),
      mask_(size_ == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * size_)) - 1),
      is_float_(IsFloat(op.type)),
      is_signed_(!IsUnsigned(op.type)) {
  if (op.op == kNoOp) {
    kind_ = Kind::kMove;
  } else if (op.op == mrdProd) {
    kind_ = Kind::kProd;
  } else if (op.op == mrdMax || op.op == mrdMin) {
    kind_ = Kind::kMaxMin;
  } else {
    kind_ = Kind::kSum;
  }
  rank_keys_.resize(static_cast<size_t>(nranks));
  for (int r = 0; r < nranks; ++r) {
    rank_keys_[static_cast<size_t>(r)] = Mix(op.key ^ (static_cast<uint64_t>(r) + 1) * 0xa24baed4963ee407ull);
  }
  const int64_t n = nranks;
  const int64_t budget = Budget(type_);
  if (kind_ == Kind::kProd) {
    // At most `twos` ranks may contribute a 2 to an element.
    const int64_t twos = std::min<int64_t>(Log2Floor(budget), 62);
    mod_ = static_cast<uint64_t>(CeilDiv(n, twos));
  } else if (kind_ == Kind::kSum) {
    scale_exp_ = is_float_ ? op.scale_exp : 0;
    int64_t active_max;
    if (op_ == mrdAvg) {
      // The others' |values| (active - 1 of them) plus the fixer's nranks - 1.
      active_max = std::min<int64_t>(n, budget - (n - 1));
      mod_ = static_cast<uint64_t>(CeilDiv(n, active_max));
      active_max = CeilDiv(n, static_cast<int64_t>(mod_));
      max_ = (budget - (n - 1)) / std::max<int64_t>(active_max - 1, 1);
    } else {
      const int64_t weight = op_ == kPreMulSum ? 3 : 1;
      active_max = std::min<int64_t>(n, budget / weight);
      mod_ = static_cast<uint64_t>(CeilDiv(n, active_max));
      active_max = CeilDiv(n, static_cast<int64_t>(mod_));
      max_ = budget / (weight * active_max);
    }
    // Narrow the range now and then: small values exercise other bits.
    const int bits = Log2Floor(std::max<int64_t>(max_, 1)) + 1;
    max_ = std::max<int64_t>(max_ >> (op.value_shift % bits), 1);
  }
}

uint64_t Values::Hash(int rank, size_t index) const {
  return Mix(rank_keys_[static_cast<size_t>(rank)] + index);
}

uint64_t Values::EncodeInt(int64_t v) const {
  if (is_float_) return mrdperf::EncodeElement(std::ldexp(static_cast<double>(v), scale_exp_), type_);
  return static_cast<uint64_t>(v) & mask_;
}

int64_t Values::Weight(int rank) const {
  if (op_ != kPreMulSum) return 1;
  static constexpr int64_t kSigned[4] = {-1, 1, 2, 3};
  const uint64_t h = Mix(rank_keys_[static_cast<size_t>(rank)] ^ 0x5ca1a5ull);
  return is_signed_ ? kSigned[h % 4] : static_cast<int64_t>(h % 3) + 1;
}

int64_t Values::SumValue(int rank, size_t index) const {
  const uint64_t r = static_cast<uint64_t>(rank);
  if ((r + index) % mod_ != 0) return 0;
  const int64_t fixer = nranks_ - 1 - static_cast<int64_t>((nranks_ - 1 + index) % mod_);
  if (op_ == mrdAvg && rank == fixer) {
    int64_t s = 0;
    for (int q = 0; q < rank; ++q) s += SumValue(q, index);
    const int64_t n = nranks_;
    return ((-s) % n + n) % n;
  }
  const uint64_t h = Hash(rank, index);
  const uint64_t m = static_cast<uint64_t>(max_);
  if (!is_signed_) return static_cast<int64_t>(h % (m + 1));
  return static_cast<int64_t>(h % (2 * m + 1)) - max_;
}

int64_t Values::ProdValue(int rank, size_t index) const {
  const uint64_t h = Hash(rank, index);
  int64_t v = 1;
  if ((static_cast<uint64_t>(rank) + index) % mod_ == 0 && (h & 1)) v = 2;
  if (((h >> 8) & 63) == 0) v = 0;
  if (is_signed_ && ((h >> 16) & 3) == 0) v = -v;
  return v;
}

uint64_t Values::MaxMinBits(int rank, size_t index) const {
  uint64_t h = Hash(rank, index);
  if (!is_float_) return h & mask_;
  for (;;) {
    const uint64_t bits = h & mask_;
    const double v = mrdperf::DecodeElement(&bits, type_);
    if (std::isfinite(v)) return v == 0.0 ? 0 : bits;  // no -0: max(-0, +0) is either
    h = Mix(h);
  }
}

uint64_t Values::Input(int rank, size_t index) const {
  switch (kind_) {
    case Kind::kMove: return Hash(rank, index) & mask_;
    case Kind::kSum: return EncodeInt(SumValue(rank, index));
    case Kind::kProd: return EncodeInt(ProdValue(rank, index));
    case Kind::kMaxMin: return MaxMinBits(rank, index);
  }
  return 0;
}

void Values::Fill(unsigned char* dst, int rank, size_t first, size_t count) const {
  for (size_t k = 0; k < count; ++k) {
    const uint64_t bits = Input(rank, first + k);
    std::memcpy(dst + k * size_, &bits, size_);
  }
}

bool Values::MatchesInput(const unsigned char* elem, int rank, size_t index) const {
  return ReadBits(elem, size_) == Input(rank, index);
}

bool Values::Less(uint64_t a, uint64_t b) const {
  if (is_float_) return mrdperf::DecodeElement(&a, type_) < mrdperf::DecodeElement(&b, type_);
  if (!is_signed_) return a < b;
  const int shift = 64 - 8 * static_cast<int>(size_);
  return static_cast<int64_t>(a << shift) < static_cast<int64_t>(b << shift);
}

int64_t Values::ReducedInt(size_t index) const {
  int64_t acc = kind_ == Kind::kProd ? 1 : 0;
  for (int r = 0; r < nranks_; ++r) {
    if (kind_ == Kind::kProd) {
      acc *= ProdValue(r, index);
    } else {
      acc += Weight(r) * SumValue(r, index);
    }
  }
  if (op_ == mrdAvg) acc /= nranks_;  // exact: the fixer made it a multiple
  return acc;
}

uint64_t Values::ReducedBits(size_t index) const {
  if (kind_ != Kind::kMaxMin) return EncodeInt(ReducedInt(index));
  uint64_t best = MaxMinBits(0, index);
  for (int r = 1; r < nranks_; ++r) {
    const uint64_t v = MaxMinBits(r, index);
    if (op_ == mrdMax ? Less(best, v) : Less(v, best)) best = v;
  }
  return best;
}

bool Values::MatchesReduced(const unsigned char* elem, size_t index) const {
  const uint64_t want = ReducedBits(index);
  const uint64_t got = ReadBits(elem, size_);
  if (!is_float_ || kind_ == Kind::kMaxMin) return got == want;
  // Float sums and products by value: a product with a 0 and a -1 is -0.
  return mrdperf::DecodeElement(&got, type_) == mrdperf::DecodeElement(&want, type_);
}

std::string Values::BitsText(uint64_t bits) const {
  char buf[96];
  if (kind_ == Kind::kMove) {
    std::snprintf(buf, sizeof(buf), "0x%0*" PRIx64, static_cast<int>(2 * size_), bits);
  } else if (is_float_) {
    std::snprintf(buf, sizeof(buf), "%.17g (0x%0*" PRIx64 ")", mrdperf::DecodeElement(&bits, type_),
                  static_cast<int>(2 * size_), bits);
  } else if (is_signed_) {
    const int shift = 64 - 8 * static_cast<int>(size_);
    std::snprintf(buf, sizeof(buf), "%" PRId64, static_cast<int64_t>(bits << shift) >> shift);
  } else {
    std::snprintf(buf, sizeof(buf), "%" PRIu64, bits);
  }
  return buf;
}

std::string Values::InputText(int rank, size_t index) const { return BitsText(Input(rank, index)); }
std::string Values::ReducedText(size_t index) const { return BitsText(ReducedBits(index)); }
std::string Values::ElemText(const unsigned char* elem) const {
  return BitsText(ReadBits(elem, size_));
}

uint64_t Values::ScalarBits(int rank) const {
  const int64_t w = Weight(rank);
  if (is_float_) return mrdperf::EncodeElement(static_cast<double>(w), type_);
  return static_cast<uint64_t>(w) & mask_;
}

}  // namespace soak
