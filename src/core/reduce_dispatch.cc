// CPU detection and the choice of the reduction kernels' SIMD level. See reduce_dispatch.h.
#include "core/reduce_dispatch.h"

#include <atomic>
#include <cctype>

#include "config/params.h"
#include "core/float_formats.h"
#include "log/log.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace mrd::simd {

namespace {

bool scalarReduce(void*, const void*, const void*, size_t, mrdDataType_t, RedKind) {
  return false;  // reduce.cc's own loops
}

#if defined(__x86_64__)

// XCR0, the state components the OS saves and restores on a context switch; 0 if the OS has
// not enabled XSAVE (then XGETBV itself would fault).
uint64_t osEnabledState() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || (ecx & bit_OSXSAVE) == 0) return 0;
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

SimdLevel detectCpuLevel() {
  constexpr uint64_t kSseYmmState = 0x6;        // XCR0 bits 1-2: XMM and upper YMM
  constexpr uint64_t kZmmState = 0xe0;          // bits 5-7: opmask, upper ZMM0-15, ZMM16-31
  __builtin_cpu_init();
  const uint64_t state = osEnabledState();
  // F16C from CPUID leaf 1 (ECX bit 29): clang 14's __builtin_cpu_supports
  // does not know the name.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & (1u << 29)) != 0;
  const bool avx2 = __builtin_cpu_supports("avx2") && f16c && (state & kSseYmmState) == kSseYmmState;
  if (!avx2) return SimdLevel::kNone;
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      (state & kZmmState) == kZmmState;
  return avx512 ? SimdLevel::kAvx512 : SimdLevel::kAvx2;
}

#else

SimdLevel detectCpuLevel() { return SimdLevel::kNone; }

#endif

std::string lowerCase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The active table; null until the first use chooses one.
std::atomic<const SimdKernels*> activeTable{nullptr};

SimdLevel chooseFromEnvironment() {
  const std::string& setting = config::processParams().simd;
  const SimdLevel cpu = cpuSimdLevel();
  std::string error;
  const SimdLevel level = chooseSimdLevel(setting, cpu, &error);
  if (!error.empty()) MRD_LOG_WARN(kColl, "MRD_SIMD: {}; using {}", error, simdLevelName(level));
  MRD_LOG_INFO(kColl, "reductions use SIMD level {} (CPU supports {}, MRD_SIMD={})",
               simdLevelName(level), simdLevelName(cpu), setting.empty() ? "auto" : setting);
  return level;
}

}  // namespace

const char* simdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kNone: return "none";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "?";
}

SimdLevel cpuSimdLevel() {
  static const SimdLevel level = detectCpuLevel();
  return level;
}

SimdLevel chooseSimdLevel(const std::string& setting, SimdLevel cpu, std::string* error) {
  error->clear();
  const std::string s = lowerCase(setting);
  if (s.empty() || s == "auto") return cpu;
  for (SimdLevel level : {SimdLevel::kNone, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (s != simdLevelName(level)) continue;
    if (level <= cpu) return level;
    *error = "'" + setting + "' is more than this CPU supports (" + simdLevelName(cpu) + ")";
    return cpu;
  }
  *error = "unknown value '" + setting + "' (auto, avx512, avx2 or none)";
  return cpu;
}

const SimdKernels& scalarKernels() {
  static const SimdKernels kernels = {SimdLevel::kNone,       scalarReduce,
                                      internal::halfToFloatN, internal::floatToHalfN,
                                      internal::bf16ToFloatN, internal::floatToBf16N};
  return kernels;
}

const SimdKernels* kernelsFor(SimdLevel level) {
  if (level > cpuSimdLevel()) return nullptr;
  switch (level) {
    case SimdLevel::kNone: return &scalarKernels();
#if defined(__x86_64__)
    case SimdLevel::kAvx2: return &avx2Kernels();
    case SimdLevel::kAvx512: return &avx512Kernels();
#else
    default: break;
#endif
  }
  return nullptr;
}

SimdLevel environmentSimdLevel() {
  static const SimdLevel level = chooseFromEnvironment();
  return level;
}

const SimdKernels& activeKernels() {
  const SimdKernels* k = activeTable.load(std::memory_order_acquire);
  if (k != nullptr) return *k;
  // First use (unless a level was forced before): every thread that gets here stores the same.
  const SimdKernels* chosen = kernelsFor(environmentSimdLevel());
  const SimdKernels* expected = nullptr;
  activeTable.compare_exchange_strong(expected, chosen, std::memory_order_acq_rel);
  return *activeTable.load(std::memory_order_acquire);
}

bool forceSimdLevel(SimdLevel level) {
  const SimdKernels* k = kernelsFor(level);
  if (k == nullptr) return false;
  activeTable.store(k, std::memory_order_release);
  return true;
}

}  // namespace mrd::simd
