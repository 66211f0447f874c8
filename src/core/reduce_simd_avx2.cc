// The AVX2 level: 256-bit vectors, float16 through F16C. See reduce_simd_lanes.h.
//
// The target pragma covers only what follows it: the library itself is built for baseline
// x86-64, and reduce_dispatch.cc calls into this file only when the CPU has AVX2 and F16C.
// (No FMA: these kernels do one operation per element, and without it the compiler cannot
// contract anything into a fused multiply-add that would round differently.)
#if defined(__x86_64__)

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "core/reduce_dispatch.h"

#pragma GCC push_options
#pragma GCC target("avx2,f16c")

#include "core/reduce_simd_lanes.h"

namespace mrd::simd {
namespace {

// Conversions of 8 lanes (see reduce_simd_lanes.h).
struct Avx2Conversions : VectorTypes<32> {
  static Vec halfToFloat(Narrow h) {
    return reinterpret_cast<Vec>(_mm256_cvtph_ps(reinterpret_cast<__m128i>(h)));
  }
  static Narrow floatToHalf(Vec f) {
    return reinterpret_cast<Narrow>(
        _mm256_cvtps_ph(reinterpret_cast<__m256>(f), _MM_FROUND_TO_NEAREST_INT));
  }
  static Bits zeroExtend(Narrow h) {
    return reinterpret_cast<Bits>(_mm256_cvtepu16_epi32(reinterpret_cast<__m128i>(h)));
  }
  // Packing works per 128-bit half (lanes 0-3 twice, then 4-7 twice); qwords 0 and 2 hold all 8.
  static Narrow truncate(Bits x) {
    const __m256i wide = reinterpret_cast<__m256i>(x);
    const __m256i packed = _mm256_packus_epi32(wide, wide);
    return reinterpret_cast<Narrow>(
        _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08)));
  }
};

}  // namespace

const SimdKernels& avx2Kernels() {
  static const SimdKernels kernels = makeKernels<32, Avx2Conversions>(SimdLevel::kAvx2);
  return kernels;
}

}  // namespace mrd::simd

#pragma GCC pop_options

#endif  // __x86_64__
