// Element-wise reduction kernels. See reduce.h for the contract.
//
// On x86-64, reduceArrays (all but the fp8 types) and the float16/bfloat16 block conversions
// run as explicit AVX2 or AVX-512 kernels where the CPU has them (reduce_dispatch.h); the loops
// here are the baseline they must match bit for bit, and what every other CPU runs.
//
// Native types (integers, float, double) are plain index loops over typed pointers that GCC
// vectorises at -O3. When dst is a or b we take a loop that names the same pointer for the
// read and the write of element i: the general loop would still be correct, but the compiler's
// runtime overlap check sees overlapping ranges and falls back to its scalar copy.
//
// Narrow floats (half, bfloat16, fp8) go through float32 in stack blocks: widen a block of each
// input, combine in float, narrow once with round to nearest even. Widening is exact, and float
// carries at least 2p+2 significand bits for each narrow format's p, so rounding the float
// result of + or * between two narrow values once more gives the correctly rounded narrow
// result (the double rounding is innocuous).
#include "core/reduce.h"
#include "core/float_formats.h"
#include "core/reduce_dispatch.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace mrd {

namespace {

// ---- Combining functions ----

// Integer sum and product wrap like NCCL's; going through the unsigned type gives that without
// signed-overflow UB. (8-bit operands promote to int, where the result cannot overflow.)
template <typename T>
inline T wrapAdd(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}

template <typename T>
inline T wrapMul(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
  } else {
    return a * b;
  }
}

struct SumOp {
  template <typename T>
  static T apply(T a, T b) {
    return wrapAdd(a, b);
  }
};
struct ProdOp {
  template <typename T>
  static T apply(T a, T b) {
    return wrapMul(a, b);
  }
};
// Plain comparisons, which map straight onto maxps/minps-style instructions: with a NaN
// operand the result is b, exactly what those instructions return, so the vector and scalar
// paths agree.
struct MaxOp {
  template <typename T>
  static T apply(T a, T b) {
    return a > b ? a : b;
  }
};
struct MinOp {
  template <typename T>
  static T apply(T a, T b) {
    return a < b ? a : b;
  }
};

template <typename T, typename Op>
void combineNative(T* dst, const T* a, const T* b, size_t n) {
  if (dst == a) {
    for (size_t i = 0; i < n; ++i) dst[i] = Op::apply(dst[i], b[i]);
  } else if (dst == b) {
    for (size_t i = 0; i < n; ++i) dst[i] = Op::apply(a[i], dst[i]);
  } else {
    for (size_t i = 0; i < n; ++i) dst[i] = Op::apply(a[i], b[i]);
  }
}

// ---- Narrow float formats ----

// Element-type tags for dispatch(): Native<T> for types the kernels compute in directly, the
// *Format structs for narrow floats that go through float32.
template <typename T>
struct Native {
  using Storage = T;
  static constexpr bool kNarrow = false;
};

struct HalfFormat {
  using Storage = uint16_t;
  static constexpr bool kNarrow = true;
  static void widen(const Storage* in, float* out, size_t n) {
    simd::activeKernels().halfToFloatN(in, out, n);
  }
  static void narrow(const float* in, Storage* out, size_t n) {
    simd::activeKernels().floatToHalfN(in, out, n);
  }
};
struct Bf16Format {
  using Storage = uint16_t;
  static constexpr bool kNarrow = true;
  static void widen(const Storage* in, float* out, size_t n) {
    simd::activeKernels().bf16ToFloatN(in, out, n);
  }
  static void narrow(const float* in, Storage* out, size_t n) {
    simd::activeKernels().floatToBf16N(in, out, n);
  }
};
struct E4m3Format {
  using Storage = uint8_t;
  static constexpr bool kNarrow = true;
  static void widen(const Storage* in, float* out, size_t n) {
    internal::fp8e4m3ToFloatN(in, out, n);
  }
  static void narrow(const float* in, Storage* out, size_t n) {
    internal::floatToFp8e4m3N(in, out, n);
  }
};
struct E5m2Format {
  using Storage = uint8_t;
  static constexpr bool kNarrow = true;
  static void widen(const Storage* in, float* out, size_t n) {
    internal::fp8e5m2ToFloatN(in, out, n);
  }
  static void narrow(const float* in, Storage* out, size_t n) {
    internal::floatToFp8e5m2N(in, out, n);
  }
};

// Elements per stack block: 2 KiB of floats per buffer stays in L1 and amortises the calls.
constexpr size_t kBlock = 512;

inline size_t blockLen(size_t off, size_t n) { return n - off < kBlock ? n - off : kBlock; }

// Each block reads both inputs completely before writing dst, so any exact aliasing is safe.
template <typename Fmt, typename Op>
void combineNarrow(typename Fmt::Storage* dst, const typename Fmt::Storage* a,
                   const typename Fmt::Storage* b, size_t n) {
  float fa[kBlock];
  float fb[kBlock];
  for (size_t off = 0; off < n; off += kBlock) {
    const size_t m = blockLen(off, n);
    Fmt::widen(a + off, fa, m);
    Fmt::widen(b + off, fb, m);
    for (size_t i = 0; i < m; ++i) fa[i] = Op::apply(fa[i], fb[i]);
    Fmt::narrow(fa, dst + off, m);
  }
}

// Applies f to every element of a narrow-format buffer through float; dst may alias src.
template <typename Fmt, typename F>
void mapNarrow(typename Fmt::Storage* dst, const typename Fmt::Storage* src, size_t n, F f) {
  float buf[kBlock];
  for (size_t off = 0; off < n; off += kBlock) {
    const size_t m = blockLen(off, n);
    Fmt::widen(src + off, buf, m);
    for (size_t i = 0; i < m; ++i) buf[i] = f(buf[i]);
    Fmt::narrow(buf, dst + off, m);
  }
}

// Applies f to every element; dst may alias src (separate loop for the reason given at the top).
template <typename T, typename F>
void mapNative(T* dst, const T* src, size_t n, F f) {
  if (dst == src) {
    for (size_t i = 0; i < n; ++i) dst[i] = f(dst[i]);
  } else {
    for (size_t i = 0; i < n; ++i) dst[i] = f(src[i]);
  }
}

// ---- Dispatch ----

template <typename T>
T* as(void* p) {
  return static_cast<T*>(p);
}
template <typename T>
const T* as(const void* p) {
  return static_cast<const T*>(p);
}

// Calls f with the tag of the element type; does nothing for an invalid type (the API layer
// validates types, and there is nothing sensible to compute).
template <typename F>
void dispatch(mrdDataType_t type, F&& f) {
  switch (type) {
    case mrdInt8: f(Native<int8_t>{}); break;
    case mrdUint8: f(Native<uint8_t>{}); break;
    case mrdInt32: f(Native<int32_t>{}); break;
    case mrdUint32: f(Native<uint32_t>{}); break;
    case mrdInt64: f(Native<int64_t>{}); break;
    case mrdUint64: f(Native<uint64_t>{}); break;
    case mrdFloat32: f(Native<float>{}); break;
    case mrdFloat64: f(Native<double>{}); break;
    case mrdFloat16: f(HalfFormat{}); break;
    case mrdBfloat16: f(Bf16Format{}); break;
    case mrdFloat8e4m3: f(E4m3Format{}); break;
    case mrdFloat8e5m2: f(E5m2Format{}); break;
    default: break;
  }
}

template <typename Op>
void reduceWithOp(void* dst, const void* a, const void* b, size_t n, mrdDataType_t type) {
  dispatch(type, [&](auto tag) {
    using Fmt = decltype(tag);
    using S = typename Fmt::Storage;
    if constexpr (Fmt::kNarrow) {
      combineNarrow<Fmt, Op>(as<S>(dst), as<S>(a), as<S>(b), n);
    } else {
      combineNative<S, Op>(as<S>(dst), as<S>(a), as<S>(b), n);
    }
  });
}

// Integer scaling. The factor of a PreMulSum op comes from a scalar of the op's own datatype,
// so for integer types it is integral; then the product is taken in the type's wrapping
// arithmetic, as multiplying two T values would be (and exact for 64-bit values that a
// double cannot hold). Any other factor goes through double, truncates toward zero and
// saturates to the type's range (NaN gives 0), so no input is undefined behaviour.
template <typename T>
void scaleInteger(T* dst, const T* src, size_t n, double factor) {
  using U = std::make_unsigned_t<T>;
  constexpr double kTwo63 = 9223372036854775808.0;
  if (std::trunc(factor) == factor && factor >= -kTwo63 && factor < 2 * kTwo63) {
    // The factor reduced modulo 2^64 (hence modulo the type's width).
    const uint64_t k = factor >= 0 ? static_cast<uint64_t>(factor)
                                   : static_cast<uint64_t>(static_cast<int64_t>(factor));
    const U ku = static_cast<U>(k);
    mapNative(dst, src, n, [ku](T x) { return static_cast<T>(static_cast<U>(x) * ku); });
    return;
  }
  // Both bounds are exact doubles (0 or -2^(bits-1), and the first value past the maximum),
  // so the comparisons are exact even for 64-bit types.
  const double lo = static_cast<double>(std::numeric_limits<T>::min());
  const double hi = std::ldexp(1.0, std::numeric_limits<T>::digits);
  mapNative(dst, src, n, [=](T x) {
    const double p = std::trunc(static_cast<double>(x) * factor);
    if (std::isnan(p)) return T(0);
    if (p <= lo) return std::numeric_limits<T>::min();
    if (p >= hi) return std::numeric_limits<T>::max();
    return static_cast<T>(p);
  });
}

template <typename T>
void divideInteger(T* buf, size_t n, int divisor) {
  if constexpr (sizeof(T) <= 4) {
    // SIMD has no integer division, but double does it exactly here: |x| < 2^32, so the
    // rounded quotient is within 2^-21/d of x/d, while a non-integral x/d is at least 1/d from
    // any integer; truncating the double quotient therefore gives x/d truncated. This
    // vectorises where an integer divide per element (20+ cycles) would not.
    const double d = divisor;
    for (size_t i = 0; i < n; ++i) buf[i] = static_cast<T>(static_cast<double>(buf[i]) / d);
  } else {
    // 64-bit values do not fit in a double; divisor >= 1, so INT64_MIN / -1 cannot happen.
    const T d = static_cast<T>(divisor);
    for (size_t i = 0; i < n; ++i) buf[i] = buf[i] / d;
  }
}

}  // namespace

void reduceArrays(void* dst, const void* a, const void* b, size_t count, mrdDataType_t type,
                  RedKind kind) {
  if (count == 0) return;
  if (simd::activeKernels().reduce(dst, a, b, count, type, kind)) return;
  switch (kind) {
    case RedKind::kSum: reduceWithOp<SumOp>(dst, a, b, count, type); break;
    case RedKind::kProd: reduceWithOp<ProdOp>(dst, a, b, count, type); break;
    case RedKind::kMax: reduceWithOp<MaxOp>(dst, a, b, count, type); break;
    case RedKind::kMin: reduceWithOp<MinOp>(dst, a, b, count, type); break;
  }
}

void scaleInto(void* dst, const void* src, size_t count, mrdDataType_t type, double factor) {
  if (count == 0) return;
  dispatch(type, [&](auto tag) {
    using Fmt = decltype(tag);
    using S = typename Fmt::Storage;
    if constexpr (Fmt::kNarrow) {
      // The float product of two narrow values is exact, so it is rounded once.
      const float f = static_cast<float>(factor);
      mapNarrow<Fmt>(as<S>(dst), as<S>(src), count, [f](float x) { return x * f; });
    } else if constexpr (std::is_integral_v<S>) {
      scaleInteger(as<S>(dst), as<S>(src), count, factor);
    } else {
      // Multiply in the type's own precision, like NCCL's PreMulSum with a scalar of type T
      // (the factor came from such a scalar, so rounding it to S is exact in practice).
      const S f = static_cast<S>(factor);
      mapNative(as<S>(dst), as<S>(src), count, [f](S x) { return x * f; });
    }
  });
}

void divideInPlace(void* buf, size_t count, mrdDataType_t type, int divisor) {
  // Avg divides by the rank count, so divisor >= 1; anything else leaves buf alone rather than
  // divide by zero (or hit INT_MIN / -1).
  if (count == 0 || divisor <= 1) return;
  dispatch(type, [&](auto tag) {
    using Fmt = decltype(tag);
    using S = typename Fmt::Storage;
    S* p = as<S>(buf);
    if constexpr (Fmt::kNarrow) {
      // Divide in float and round once. That is the correctly rounded quotient as long as
      // divisor * 2^(p+1) < 2^24 for the format's p significand bits: divisor < 4096 for half,
      // more for the others.
      const float d = static_cast<float>(divisor);
      mapNarrow<Fmt>(p, p, count, [d](float x) { return x / d; });
    } else if constexpr (std::is_integral_v<S>) {
      divideInteger(p, count, divisor);
    } else {
      // A true division, not a multiply by the reciprocal, so the result is correctly rounded.
      const S d = static_cast<S>(divisor);
      mapNative(p, p, count, [d](S x) { return x / d; });
    }
  });
}

}  // namespace mrd
