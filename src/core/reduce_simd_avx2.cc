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

// 8 halves <-> 8 floats.
struct Avx2HalfConvert {
  using Vec = VectorOf<float, 32>::type;
  using Narrow = VectorOf<uint16_t, 16>::type;
  static Vec widen(Narrow h) {
    return reinterpret_cast<Vec>(_mm256_cvtph_ps(reinterpret_cast<__m128i>(h)));
  }
  static Narrow narrow(Vec f) {
    return reinterpret_cast<Narrow>(
        _mm256_cvtps_ph(reinterpret_cast<__m256>(f), _MM_FROUND_TO_NEAREST_INT));
  }
};

}  // namespace

const SimdKernels& avx2Kernels() {
  static const SimdKernels kernels = makeKernels<32, Avx2HalfConvert>(SimdLevel::kAvx2);
  return kernels;
}

}  // namespace mrd::simd

#pragma GCC pop_options

#endif  // __x86_64__
