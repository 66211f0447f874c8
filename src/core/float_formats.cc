// Conversions between float32 and the narrow float formats (IEEE half, bfloat16, OCP FP8 E4M3
// and E5M2), one element at a time and in blocks for the reduction kernels.
//
// Narrowing rounds to nearest, ties to even, in a single step straight from float32 (going
// through half on the way to E5M2 would round twice and get ties wrong).
//
// The element functions are integer bit manipulation plus branch-free selects, so the block
// loops below vectorise at -O3 (SSE2 is enough). The only float arithmetic is the "magic
// number" add/sub that handles subnormals of the narrow format, and every operand and result
// there is either a float32 normal or an input that rounds to zero anyway, so results are the
// same when the process runs with flush-to-zero / denormals-are-zero enabled.
#include <cstdint>
#include <cstring>

#include "core/reduce.h"
#include "core/float_formats.h"

namespace mrd {
namespace {

inline uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Branch-free selection. With plain ?: GCC sinks the magic-number float add (below) into the
// branch that uses it, and under the default -ftrapping-math will not speculate it back, so the
// loop keeps control flow and does not vectorise. Masks built by arithmetic also spare the
// vector code bool-to-mask conversions.

// All ones if a < b, else zero. Every value compared here is below 2^31, so a - b does not
// overflow as int32 and its sign is the answer (an arithmetic shift spreads it).
inline uint32_t maskBelow(uint32_t a, uint32_t b) {
  return static_cast<uint32_t>(static_cast<int32_t>(a - b) >> 31);
}

// mask ? a : b, lane by lane.
inline uint32_t blend(uint32_t mask, uint32_t a, uint32_t b) { return (a & mask) | (b & ~mask); }

inline uint32_t minSmall(uint32_t a, uint32_t b) { return blend(maskBelow(a, b), a, b); }

constexpr uint32_t kF32Inf = 0x7f800000u;
constexpr uint32_t kF32QuietNan = 0x7fc00000u;

// Float32 bits with this biased exponent: the exponent offset between formats.
constexpr uint32_t exponentBits(uint32_t biased) { return biased << 23; }

// ---- IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. ----

inline float halfToFloatImpl(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t em = h & 0x7fffu;
  // Normal: move exponent and mantissa into place and rebias 15 -> 127.
  const uint32_t normal = (em << 13) + exponentBits(127 - 15);
  // Inf and NaN keep an all-ones exponent; the NaN payload moves along with the mantissa.
  const uint32_t special = (em << 13) | kF32Inf;
  // Subnormal m * 2^-24, computed exactly as 2^-14 * (1 + m/1024) - 2^-14 (all float normals).
  const uint32_t sub = bitsOf(floatOf((em << 13) + exponentBits(113)) - floatOf(exponentBits(113)));
  uint32_t r = blend(maskBelow(em, 0x7c00u), normal, special);
  r = blend(maskBelow(em, 0x0400u), sub, r);
  return floatOf(r | sign);
}

inline uint16_t floatToHalfImpl(float f) {
  uint32_t x = bitsOf(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  // Keep NaNs quiet and keep the top of the payload.
  const uint32_t nan = 0x7e00u | ((x >> 13) & 0x3ffu);
  // Normal range: rebias, then add just under half an ulp plus the lowest kept bit so the
  // truncating shift rounds to nearest even. Carries into the exponent are the right answer,
  // including the carry from 65504 + ulp/2 into infinity; larger inputs clamp to infinity.
  // (For inputs below the half normal range this wraps, but then it is not selected.)
  const uint32_t normal =
      minSmall((x - exponentBits(127 - 15) + 0x0fffu + ((x >> 13) & 1u)) >> 13, 0x7c00u);
  // Below 2^-14: adding 0.5 (whose ulp is 2^-24, the half subnormal step) makes the FPU round
  // to a multiple of 2^-24 for us; the low bits are then the subnormal mantissa (up to 0x400,
  // which is correctly the smallest normal).
  const uint32_t sub = bitsOf(floatOf(x) + floatOf(exponentBits(126))) - exponentBits(126);
  uint32_t r = blend(maskBelow(x, exponentBits(113)), sub, normal);
  r = blend(maskBelow(kF32Inf, x), nan, r);
  return static_cast<uint16_t>(r | sign);
}

// ---- bfloat16: the top half of a float32. ----

inline float bf16ToFloatImpl(uint16_t b) { return floatOf(static_cast<uint32_t>(b) << 16); }

inline uint16_t floatToBf16Impl(float f) {
  const uint32_t x = bitsOf(f);
  // Round to nearest even on the dropped 16 bits; overflow carries into infinity by itself.
  const uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
  // NaN: truncate and force the quiet bit so a payload in the low bits cannot turn it into inf.
  const uint32_t nan = (x >> 16) | 0x0040u;
  const uint32_t r = blend(maskBelow(kF32Inf, x & 0x7fffffffu), nan, rounded);
  return static_cast<uint16_t>(r);
}

// ---- OCP FP8 E4M3: 1 sign, 4 exponent (bias 7), 3 mantissa bits. No infinities; S.1111.111
// is NaN, so the largest finite magnitude is S.1111.110 = 448. ----

inline float fp8e4m3ToFloatImpl(uint8_t v) {
  const uint32_t sign = static_cast<uint32_t>(v & 0x80u) << 24;
  const uint32_t em = v & 0x7fu;
  const uint32_t normal = (em << 20) + exponentBits(127 - 7);
  // Subnormal m * 2^-9 = 2^-6 * (1 + m/8) - 2^-6.
  const uint32_t sub = bitsOf(floatOf((em << 20) + exponentBits(121)) - floatOf(exponentBits(121)));
  uint32_t r = blend(maskBelow(em, 0x08u), sub, normal);
  r = blend(maskBelow(em, 0x7fu), r, kF32QuietNan);
  return floatOf(r | sign);
}

inline uint8_t floatToFp8e4m3Impl(float f) {
  uint32_t x = bitsOf(f);
  const uint32_t sign = (x >> 24) & 0x80u;
  x &= 0x7fffffffu;
  // Same rounding trick as half. Anything that rounds past 448 (code 0x7e), infinity
  // included, saturates to 448: E4M3 has no infinity and 0x7f is NaN.
  const uint32_t normal =
      minSmall((x - exponentBits(127 - 7) + 0x7ffffu + ((x >> 20) & 1u)) >> 20, 0x7eu);
  // Below 2^-6: 2^14 has ulp 2^-9, the E4M3 subnormal step.
  const uint32_t sub = bitsOf(floatOf(x) + floatOf(exponentBits(141))) - exponentBits(141);
  uint32_t r = blend(maskBelow(x, exponentBits(121)), sub, normal);
  r = blend(maskBelow(kF32Inf, x), 0x7fu, r);
  return static_cast<uint8_t>(r | sign);
}

// ---- OCP FP8 E5M2: 1 sign, 5 exponent (bias 15), 2 mantissa bits; IEEE-like, so it is the
// top byte of a half and has infinities. Largest finite magnitude 57344. ----

inline float fp8e5m2ToFloatImpl(uint8_t v) {
  return halfToFloatImpl(static_cast<uint16_t>(static_cast<uint32_t>(v) << 8));
}

inline uint8_t floatToFp8e5m2Impl(float f) {
  uint32_t x = bitsOf(f);
  const uint32_t sign = (x >> 24) & 0x80u;
  x &= 0x7fffffffu;
  // Overflow (ties included: 57344 has an odd mantissa) carries into 0x7c, infinity.
  const uint32_t normal =
      minSmall((x - exponentBits(127 - 15) + 0xfffffu + ((x >> 21) & 1u)) >> 21, 0x7cu);
  // Below 2^-14: 2^7 has ulp 2^-16, the E5M2 subnormal step.
  const uint32_t sub = bitsOf(floatOf(x) + floatOf(exponentBits(134))) - exponentBits(134);
  uint32_t r = blend(maskBelow(x, exponentBits(113)), sub, normal);
  r = blend(maskBelow(kF32Inf, x), 0x7eu, r);
  return static_cast<uint8_t>(r | sign);
}

}  // namespace

float halfToFloat(unsigned short h) { return halfToFloatImpl(h); }
unsigned short floatToHalf(float f) { return floatToHalfImpl(f); }
float bf16ToFloat(unsigned short b) { return bf16ToFloatImpl(b); }
unsigned short floatToBf16(float f) { return floatToBf16Impl(f); }
float fp8e4m3ToFloat(unsigned char v) { return fp8e4m3ToFloatImpl(v); }
unsigned char floatToFp8e4m3(float f) { return floatToFp8e4m3Impl(f); }
float fp8e5m2ToFloat(unsigned char v) { return fp8e5m2ToFloatImpl(v); }
unsigned char floatToFp8e5m2(float f) { return floatToFp8e5m2Impl(f); }

// Block versions for reduce.cc, which declares them itself (they are private to the two
// files). Out-of-line per block rather than per element: one call per few hundred elements
// costs nothing, and the loops here vectorise.
namespace internal {

void halfToFloatN(const uint16_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = halfToFloatImpl(in[i]);
}
void floatToHalfN(const float* in, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = floatToHalfImpl(in[i]);
}
void bf16ToFloatN(const uint16_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = bf16ToFloatImpl(in[i]);
}
void floatToBf16N(const float* in, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = floatToBf16Impl(in[i]);
}
void fp8e4m3ToFloatN(const uint8_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = fp8e4m3ToFloatImpl(in[i]);
}
void floatToFp8e4m3N(const float* in, uint8_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = floatToFp8e4m3Impl(in[i]);
}
void fp8e5m2ToFloatN(const uint8_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = fp8e5m2ToFloatImpl(in[i]);
}
void floatToFp8e5m2N(const float* in, uint8_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = floatToFp8e5m2Impl(in[i]);
}

}  // namespace internal
}  // namespace mrd
