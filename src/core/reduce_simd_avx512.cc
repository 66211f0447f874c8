// The AVX-512 level: 512-bit vectors (AVX512F, and AVX512BW for the 8- and 16-bit lanes),
// float16 through the AVX512F forms of the F16C conversions. See reduce_simd_lanes.h.
//
// As in reduce_simd_avx2.cc, the target pragma covers only what follows it, and
// reduce_dispatch.cc calls into this file only when the CPU and the OS support AVX-512.
#if defined(__x86_64__)

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "core/reduce_dispatch.h"

#pragma GCC push_options
#pragma GCC target("avx2,f16c,avx512f,avx512bw")

#include "core/reduce_simd_lanes.h"

namespace mrd::simd {
namespace {

// Conversions of 16 lanes (see reduce_simd_lanes.h), each in its zero-masking form with every
// lane selected: GCC 12's plain forms (_mm512_cvtph_ps and the like) pass an "undefined" vector
// that -Wmaybe-uninitialized reports.
struct Avx512Conversions : VectorTypes<64> {
  static Vec halfToFloat(Narrow h) {
    return reinterpret_cast<Vec>(_mm512_maskz_cvtph_ps(0xffff, reinterpret_cast<__m256i>(h)));
  }
  static Narrow floatToHalf(Vec f) {
    return reinterpret_cast<Narrow>(
        _mm512_maskz_cvtps_ph(0xffff, reinterpret_cast<__m512>(f), _MM_FROUND_TO_NEAREST_INT));
  }
  static Bits zeroExtend(Narrow h) {
    return reinterpret_cast<Bits>(
        _mm512_maskz_cvtepu16_epi32(0xffff, reinterpret_cast<__m256i>(h)));
  }
  static Narrow truncate(Bits x) {
    return reinterpret_cast<Narrow>(
        _mm512_maskz_cvtepi32_epi16(0xffff, reinterpret_cast<__m512i>(x)));
  }
};

}  // namespace

const SimdKernels& avx512Kernels() {
  static const SimdKernels kernels = makeKernels<64, Avx512Conversions>(SimdLevel::kAvx512);
  return kernels;
}

}  // namespace mrd::simd

#pragma GCC pop_options

#endif  // __x86_64__
