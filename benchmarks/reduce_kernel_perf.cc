// reduce_kernel_perf: the element-wise sum kernel (reduceArrays, dst = a + b, three distinct
// buffers) at each SIMD level the CPU supports, beside memcpy of the same bytes, in one process.
// Not a collective and not a test: it links the internal library to force each level.
//
// Every round times every (size, type, level) case and memcpy once, in turn, so the cases share
// whatever else the machine is doing; the table gives the median of the rounds. GB/s counts
// the bytes of one buffer (the output) per second: the kernel reads two such buffers and writes
// one, memcpy reads one and writes one.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "core/datatype.h"
#include "core/reduce.h"
#include "core/reduce_dispatch.h"

namespace {

using Clock = std::chrono::steady_clock;
using mrd::simd::SimdLevel;

struct Options {
  int rounds = 9;
  double minSeconds = 0.02;  // each timing repeats the operation at least this long
};

void Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [-r rounds (9)] [-t min milliseconds per timing (20)]\n"
               "Times sum of float32, float16, bfloat16 and int32 at 4 KiB, 64 KiB, 1 MiB and\n"
               "64 MiB at every SIMD level this CPU supports, and memcpy of the same bytes.\n",
               argv0);
  std::exit(2);
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage(argv[0]);
    const int value = std::atoi(argv[++i]);
    if (value <= 0) Usage(argv[0]);
    if (flag == "-r") {
      o.rounds = value;
    } else if (flag == "-t") {
      o.minSeconds = value / 1000.0;
    } else {
      Usage(argv[0]);
    }
  }
  return o;
}

// One timed thing: a reduction at a level, or memcpy (level unset).
struct Case {
  size_t bytes;
  mrdDataType_t type;
  bool isMemcpy;
  SimdLevel level;
  int iterations = 0;  // per timing, calibrated before the first round
  std::vector<double> gbps;
};

// 64-byte aligned, as buffers from a page allocator would be; memcpy and every level alike.
struct AlignedBuffer {
  explicit AlignedBuffer(size_t bytes)
      : data(static_cast<unsigned char*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64))) {
    if (data == nullptr) std::abort();
  }
  ~AlignedBuffer() { std::free(data); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  unsigned char* data;
};

struct Buffers {
  explicit Buffers(size_t bytes) : a(bytes), b(bytes), dst(bytes) {}
  AlignedBuffer a, b, dst;
};

// Every 16-bit half of the inputs is 0x3c00 + (i % 97): as float16 about 1, as bfloat16 and as
// float32 about 2^-7, all normal, so no sum overflows or is subnormal.
void FillInputs(Buffers* bufs, size_t bytes) {
  std::vector<uint16_t> pattern(bytes / sizeof(uint16_t));
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint16_t>(0x3c00 + i % 97);
  for (AlignedBuffer* buf : {&bufs->a, &bufs->b, &bufs->dst}) {
    std::memcpy(buf->data, pattern.data(), bytes);
  }
}

void RunOnce(const Case& c, Buffers* bufs) {
  if (c.isMemcpy) {
    std::memcpy(bufs->dst.data, bufs->a.data, c.bytes);
  } else {
    mrd::reduceArrays(bufs->dst.data, bufs->a.data, bufs->b.data,
                      c.bytes / mrd::dataTypeSize(c.type), c.type, mrd::RedKind::kSum);
  }
}

double TimeIterations(const Case& c, Buffers* bufs, int iterations) {
  if (!c.isMemcpy && !mrd::simd::forceSimdLevel(c.level)) std::abort();
  RunOnce(c, bufs);  // warm the caches and the pages
  const auto start = Clock::now();
  for (int i = 0; i < iterations; ++i) RunOnce(c, bufs);
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Enough iterations that a timing takes at least minSeconds.
int Calibrate(const Case& c, Buffers* bufs, double minSeconds) {
  int n = 1;
  for (;;) {
    const double s = TimeIterations(c, bufs, n);
    if (s >= minSeconds || n >= (1 << 24)) return n;
    n = s <= 0 ? n * 16 : std::max(n * 2, static_cast<int>(n * 1.2 * minSeconds / s));
  }
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

std::string SizeName(size_t bytes) {
  return bytes >= (1u << 20) ? std::to_string(bytes >> 20) + " MiB"
                             : std::to_string(bytes >> 10) + " KiB";
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = ParseOptions(argc, argv);
  const size_t sizes[] = {4 << 10, 64 << 10, 1 << 20, 64 << 20};
  const mrdDataType_t types[] = {mrdFloat32, mrdFloat16, mrdBfloat16, mrdInt32};
  std::vector<SimdLevel> levels;
  for (SimdLevel l : {SimdLevel::kNone, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (mrd::simd::kernelsFor(l) != nullptr) levels.push_back(l);
  }
  const SimdLevel chosen = mrd::simd::activeKernels().level;  // MRD_SIMD's choice, before forcing

  std::vector<Case> cases;
  for (size_t bytes : sizes) {
    for (mrdDataType_t t : types) {
      for (SimdLevel l : levels) cases.push_back({bytes, t, false, l, 0, {}});
    }
    cases.push_back({bytes, mrdFloat32, true, SimdLevel::kNone, 0, {}});
  }
  Buffers bufs(sizes[3]);
  FillInputs(&bufs, sizes[3]);
  for (Case& c : cases) c.iterations = Calibrate(c, &bufs, opt.minSeconds);
  for (int r = 0; r < opt.rounds; ++r) {
    for (Case& c : cases) {
      c.gbps.push_back(c.bytes * static_cast<double>(c.iterations) /
                       TimeIterations(c, &bufs, c.iterations) / 1e9);
    }
  }

  std::printf("# reduce_kernel_perf: sum dst = a + b; GB/s of one buffer, median of %d rounds\n",
              opt.rounds);
  std::printf("# CPU supports %s; MRD_SIMD chose %s\n",
              mrd::simd::simdLevelName(mrd::simd::cpuSimdLevel()),
              mrd::simd::simdLevelName(chosen));
  std::printf("%-8s %-9s", "size", "type");
  for (SimdLevel l : levels) std::printf(" %9s", mrd::simd::simdLevelName(l));
  std::printf(" %9s\n", "memcpy");
  size_t i = 0;
  for (size_t bytes : sizes) {
    const double memcpyGbps = Median(cases[i + std::size(types) * levels.size()].gbps);
    for (mrdDataType_t t : types) {
      std::printf("%-8s %-9s", SizeName(bytes).c_str(), mrd::dataTypeName(t));
      for (size_t l = 0; l < levels.size(); ++l) std::printf(" %9.2f", Median(cases[i++].gbps));
      std::printf(" %9.2f\n", memcpyGbps);
    }
    ++i;  // memcpy
  }
  return 0;
}
