#include "common/data_check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/elements.h"
#include "common/options.h"

namespace mrdperf {
namespace {

// Largest input value; keeps sums far from every integer type's limit.
constexpr int64_t kValueCap = 1000;
// A product multiplies at most this many 2s (64 fits int8).
constexpr int64_t kMaxProdTwos = 6;
// Poison bytes: NaN in every floating type, negative in signed integers and
// above every input of unsigned ones (uint8 inputs stop at 254).
constexpr unsigned char kPoisonByte = 0xff;

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

size_t TypeSize(mrdDataType_t type) {
  switch (type) {
    case mrdInt8:
    case mrdUint8:
    case mrdFloat8e4m3:
    case mrdFloat8e5m2:
      return 1;
    case mrdFloat16:
    case mrdBfloat16:
      return 2;
    case mrdInt32:
    case mrdUint32:
    case mrdFloat32:
      return 4;
    case mrdInt64:
    case mrdUint64:
    case mrdFloat64:
      return 8;
    default:
      return 0;
  }
}

Pattern::Pattern(mrdDataType_t type, int op, int nranks, uint64_t seed)
    : type_(type), op_(op), nranks_(nranks), seed_(Mix(seed)), size_(TypeSize(type)) {
  if (op == kNoOp) return;
  int64_t limit = ExactIntegerLimit(type);
  if (type == mrdUint8) limit = 254;
  const int64_t n = nranks;
  if (op == mrdProd) {
    modulus_ = static_cast<size_t>(CeilDiv(n, kMaxProdTwos));
    max_value_ = 2;
  } else if (op == mrdMax || op == mrdMin) {
    max_value_ = static_cast<int>(std::min(limit, kValueCap));
  } else {
    // Sum, avg, mulsum: at most `active` ranks feed an element, each with at
    // most max_value_ times a weight, so every partial sum stays <= limit.
    const int64_t weight = op == kMulSum ? 2 : 1;
    modulus_ = static_cast<size_t>(CeilDiv(n, limit / weight));
    const int64_t active = CeilDiv(n, static_cast<int64_t>(modulus_));
    max_value_ = static_cast<int>(std::min(limit / (weight * active), kValueCap));
  }
  for (int v = 0; v <= max_value_; ++v) encoded_[v] = EncodeElement(v, type);
}

uint64_t Pattern::Raw(int rank, size_t index) const {
  return Mix(seed_ ^ (static_cast<uint64_t>(rank) << 48) ^ index);
}

int Pattern::Value(int rank, size_t index) const {
  const uint64_t h = Raw(rank, index);
  const bool active = (static_cast<size_t>(rank) + index) % modulus_ == 0;
  if (op_ == mrdProd) return active && ((h >> 17) & 1) ? 2 : 1;
  if (!active) return 0;
  return static_cast<int>(h % static_cast<uint64_t>(max_value_ + 1));
}

void Pattern::Scalar(int rank, void* out) const {
  const uint64_t bits = EncodeElement(1 + (rank & 1), type_);
  std::memcpy(out, &bits, size_);
}

double Pattern::Expected(size_t index) const {
  double acc = op_ == mrdProd ? 1.0 : 0.0;
  for (int r = 0; r < nranks_; ++r) {
    const double v = Value(r, index);
    switch (op_) {
      case mrdProd:
        acc *= v;
        break;
      case mrdMax:
        acc = r == 0 ? v : std::max(acc, v);
        break;
      case mrdMin:
        acc = r == 0 ? v : std::min(acc, v);
        break;
      case kMulSum:
        acc += v * (1 + (r & 1));
        break;
      default:
        acc += v;
        break;  // sum, avg
    }
  }
  if (op_ == mrdAvg) {
    acc /= nranks_;
    if (UlpOf(acc, type_) == 0.0) acc = std::floor(acc);  // integer types
  }
  return acc;
}

bool Pattern::Matches(const unsigned char* elem, double expected) const {
  const double got = DecodeElement(elem, type_);
  const double tolerance = op_ == mrdAvg ? 2 * UlpOf(expected, type_) : 0.0;
  return std::fabs(got - expected) <= tolerance;
}

void Pattern::Fill(void* buf, size_t count, int rank, size_t first) const {
  auto* out = static_cast<unsigned char*>(buf);
  for (size_t k = 0; k < count; ++k) {
    const uint64_t bits = op_ == kNoOp ? Raw(rank, first + k) : encoded_[Value(rank, first + k)];
    std::memcpy(out + k * size_, &bits, size_);  // little-endian host
  }
}

void Pattern::Poison(void* buf, size_t bytes) { std::memset(buf, kPoisonByte, bytes); }

int64_t Pattern::CountWrong(const void* buf, size_t count, const Layout& layout,
                            SourceFn source) const {
  static const bool debug = std::getenv("MRD_PERF_DEBUG") != nullptr;
  const auto* in = static_cast<const unsigned char*>(buf);
  int64_t wrong = 0;
  for (size_t k = 0; k < count; ++k) {
    const Source src = source(k, layout);
    const unsigned char* elem = in + k * size_;
    if (op_ == kNoOp) {
      const uint64_t want = Raw(src.rank, src.index);
      if (std::memcmp(elem, &want, size_) == 0) continue;
      if (debug && wrong < 4) {
        uint64_t got = 0;
        std::memcpy(&got, elem, size_);
        const uint64_t mask = size_ == 8 ? ~0ull : (1ull << (8 * size_)) - 1;
        std::fprintf(stderr,
                     "rank %d: element %zu (%s, from rank %d index %zu): got 0x%llx,"
                     " want 0x%llx\n",
                     layout.rank, k, TypeName(type_), src.rank, src.index,
                     static_cast<unsigned long long>(got),
                     static_cast<unsigned long long>(want & mask));
      }
    } else {
      const double want = src.rank == kAllRanks ? Expected(src.index) : Value(src.rank, src.index);
      if (Matches(elem, want)) continue;
      if (debug && wrong < 4) {
        std::fprintf(stderr, "rank %d: element %zu (%s %s, index %zu): got %g, want %g\n",
                     layout.rank, k, TypeName(type_), OpName(op_), src.index,
                     DecodeElement(elem, type_), want);
      }
    }
    ++wrong;
  }
  return wrong;
}

}  // namespace mrdperf
