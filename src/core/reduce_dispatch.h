// Run-time choice of the SIMD level the reduction kernels use.
//
// Each level supplies one table of kernels (SimdKernels): reduceArrays for the native types,
// float16 and bfloat16, and the float16/bfloat16 block conversions. The table is picked once,
// at first use, from what the CPU and the OS support and MRD_SIMD (auto, avx512, avx2, none);
// tests and benchmarks may switch to any level the CPU supports. Every level gives results
// bit-identical to the scalar code (kNone), which also does what a level leaves out (fp8).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/reduce.h"
#include "meridian/meridian.h"

namespace mrd::simd {

// In increasing order: a level may use everything a lower one does.
enum class SimdLevel { kNone = 0, kAvx2 = 1, kAvx512 = 2 };

const char* simdLevelName(SimdLevel level);  // "none", "avx2", "avx512"

struct SimdKernels {
  SimdLevel level;
  // dst[i] = a[i] (kind) b[i] as reduceArrays (count >= 1); false for a type the level leaves to
  // the scalar code, having written nothing.
  bool (*reduce)(void* dst, const void* a, const void* b, size_t count, mrdDataType_t type,
                 RedKind kind);
  // Block conversions, element by element as halfToFloat and friends in reduce.h.
  void (*halfToFloatN)(const uint16_t* in, float* out, size_t n);
  void (*floatToHalfN)(const float* in, uint16_t* out, size_t n);
  void (*bf16ToFloatN)(const uint16_t* in, float* out, size_t n);
  void (*floatToBf16N)(const float* in, uint16_t* out, size_t n);
};

// The highest level this CPU and OS can run: AVX2 needs AVX2 and F16C and the OS saving YMM
// state; AVX-512 needs those, AVX512F and AVX512BW, and the OS saving the opmask and ZMM state.
SimdLevel cpuSimdLevel();

// The level an MRD_SIMD value selects on a CPU whose best level is `cpu`. Empty or "auto" (any
// case) gives `cpu`. A level above `cpu` or an unknown value also gives `cpu`, and *error says
// why (otherwise it is left empty).
SimdLevel chooseSimdLevel(const std::string& setting, SimdLevel cpu, std::string* error);

// The level MRD_SIMD selects on this CPU; decided, and logged at INFO, once per process.
SimdLevel environmentSimdLevel();

// The table the kernels use now: environmentSimdLevel()'s unless forceSimdLevel chose another.
const SimdKernels& activeKernels();

// The table of a level, or nullptr where the CPU cannot run it (or on a non-x86 build).
const SimdKernels* kernelsFor(SimdLevel level);

// Makes `level` the active one from now on, for tests and benchmarks; false (nothing changes)
// if the CPU cannot run it. Not meant to race with running reductions.
bool forceSimdLevel(SimdLevel level);

// The tables of the scalar code and of each instruction set (the latter only on x86-64).
const SimdKernels& scalarKernels();
#if defined(__x86_64__)
const SimdKernels& avx2Kernels();
const SimdKernels& avx512Kernels();
#endif

}  // namespace mrd::simd
