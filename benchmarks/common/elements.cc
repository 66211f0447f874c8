#include "common/elements.h"

#include <cmath>
#include <cstring>

namespace mrdperf {
namespace {

// A binary floating-point format: sign, ebits of exponent, mbits of mantissa.
// has_inf: IEEE-style all-ones exponent (inf/NaN); otherwise only the all-ones
// pattern is NaN and the rest of the top binade is finite (fp8 e4m3).
struct Format {
  int ebits;
  int mbits;
  bool has_inf;
  int Bias() const { return (1 << (ebits - 1)) - 1; }
  int MaxBiased() const { return (1 << ebits) - 1; }
};

constexpr Format kHalf{5, 10, true};
constexpr Format kBf16{8, 7, true};
constexpr Format kE4m3{4, 3, false};
constexpr Format kE5m2{5, 2, true};
constexpr Format kFloat{8, 23, true};
constexpr Format kDouble{11, 52, true};

const Format* FormatOf(mrdDataType_t type) {
  switch (type) {
    case mrdFloat16:
      return &kHalf;
    case mrdBfloat16:
      return &kBf16;
    case mrdFloat8e4m3:
      return &kE4m3;
    case mrdFloat8e5m2:
      return &kE5m2;
    case mrdFloat32:
      return &kFloat;
    case mrdFloat64:
      return &kDouble;
    default:
      return nullptr;
  }
}

uint64_t EncodeSmall(double x, const Format& f) {
  const uint64_t sign = std::signbit(x) ? uint64_t{1} << (f.ebits + f.mbits) : 0;
  const uint64_t mant_ones = (uint64_t{1} << f.mbits) - 1;
  const uint64_t top = static_cast<uint64_t>(f.MaxBiased()) << f.mbits;
  if (std::isnan(x)) return sign | top | mant_ones;
  double a = std::fabs(x);
  if (a == 0.0) return sign;
  int e = 0;
  std::frexp(a, &e);
  int exp = e - 1;  // a = 1.m * 2^exp
  const int min_exp = 1 - f.Bias();
  if (exp < min_exp) {
    // Subnormal: the rounded mantissa may carry into the smallest normal,
    // whose encoding is exactly that integer.
    return sign | static_cast<uint64_t>(std::nearbyint(std::ldexp(a, f.mbits - min_exp)));
  }
  double q = std::nearbyint(std::ldexp(a, f.mbits - exp));
  if (q >= std::ldexp(1.0, f.mbits + 1)) {
    q /= 2;
    ++exp;
  }
  uint64_t biased = static_cast<uint64_t>(exp + f.Bias());
  uint64_t mant = static_cast<uint64_t>(q) & mant_ones;
  if (f.has_inf && biased >= static_cast<uint64_t>(f.MaxBiased())) return sign | top;
  if (!f.has_inf && (biased > static_cast<uint64_t>(f.MaxBiased()) ||
                     (biased == static_cast<uint64_t>(f.MaxBiased()) && mant == mant_ones))) {
    return sign | top | (mant_ones - 1);  // saturate to the largest finite value
  }
  return sign | (biased << f.mbits) | mant;
}

double DecodeSmall(uint64_t bits, const Format& f) {
  const bool negative = (bits >> (f.ebits + f.mbits)) & 1;
  const int biased = static_cast<int>((bits >> f.mbits) & static_cast<uint64_t>(f.MaxBiased()));
  const uint64_t mant = bits & ((uint64_t{1} << f.mbits) - 1);
  double value;
  if (biased == f.MaxBiased() && (f.has_inf || mant == (uint64_t{1} << f.mbits) - 1)) {
    value = (f.has_inf && mant == 0) ? INFINITY : NAN;
  } else if (biased == 0) {
    value = std::ldexp(static_cast<double>(mant), 1 - f.Bias() - f.mbits);
  } else {
    value = std::ldexp(static_cast<double>(mant | (uint64_t{1} << f.mbits)),
                       biased - f.Bias() - f.mbits);
  }
  return negative ? -value : value;
}

}  // namespace

uint64_t EncodeElement(double value, mrdDataType_t type) {
  switch (type) {
    case mrdInt8:
      return static_cast<uint8_t>(static_cast<int8_t>(value));
    case mrdUint8:
      return static_cast<uint8_t>(value);
    case mrdInt32:
      return static_cast<uint32_t>(static_cast<int32_t>(value));
    case mrdUint32:
      return static_cast<uint32_t>(value);
    case mrdInt64:
      return static_cast<uint64_t>(static_cast<int64_t>(value));
    case mrdUint64:
      return static_cast<uint64_t>(value);
    case mrdFloat32: {
      float f = static_cast<float>(value);
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof(bits));
      return bits;
    }
    case mrdFloat64: {
      uint64_t bits;
      std::memcpy(&bits, &value, sizeof(bits));
      return bits;
    }
    default: {
      const Format* f = FormatOf(type);
      return f != nullptr ? EncodeSmall(value, *f) : 0;
    }
  }
}

double DecodeElement(const void* elem, mrdDataType_t type) {
  uint64_t bits = 0;
  switch (type) {
    case mrdInt8:
      return *static_cast<const int8_t*>(elem);
    case mrdUint8:
      return *static_cast<const uint8_t*>(elem);
    case mrdInt32: {
      int32_t v;
      std::memcpy(&v, elem, sizeof(v));
      return v;
    }
    case mrdUint32: {
      uint32_t v;
      std::memcpy(&v, elem, sizeof(v));
      return v;
    }
    case mrdInt64: {
      int64_t v;
      std::memcpy(&v, elem, sizeof(v));
      return static_cast<double>(v);
    }
    case mrdUint64: {
      uint64_t v;
      std::memcpy(&v, elem, sizeof(v));
      return static_cast<double>(v);
    }
    case mrdFloat32: {
      float v;
      std::memcpy(&v, elem, sizeof(v));
      return v;
    }
    case mrdFloat64: {
      double v;
      std::memcpy(&v, elem, sizeof(v));
      return v;
    }
    case mrdFloat16:
    case mrdBfloat16: {
      uint16_t v;
      std::memcpy(&v, elem, sizeof(v));
      bits = v;
      break;
    }
    default:
      bits = *static_cast<const uint8_t*>(elem);
      break;
  }
  const Format* f = FormatOf(type);
  return f != nullptr ? DecodeSmall(bits, *f) : NAN;
}

double UlpOf(double value, mrdDataType_t type) {
  const Format* f = FormatOf(type);
  if (f == nullptr) return 0.0;
  int exp = 1 - f->Bias();
  if (value != 0.0 && std::isfinite(value)) {
    int e = 0;
    std::frexp(value, &e);
    if (e - 1 > exp) exp = e - 1;
  }
  return std::ldexp(1.0, exp - f->mbits);
}

int64_t ExactIntegerLimit(mrdDataType_t type) {
  constexpr int64_t kCap = int64_t{1} << 30;
  if (type == mrdInt8) return 127;
  if (type == mrdUint8) return 255;
  const Format* f = FormatOf(type);
  if (f == nullptr || f->mbits >= 30) return kCap;
  return int64_t{1} << (f->mbits + 1);
}

}  // namespace mrdperf
