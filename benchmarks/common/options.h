// Command line of the *_perf benchmarks (the flags of nccl-tests).
#pragma once

#include <cstddef>
#include <string>

#include "meridian/meridian.h"

namespace mrdperf {

// -o and -d select one value or every value ("all").
constexpr int kAll = -1;
// The -o value of the pre-multiplied sum (mrdRedOpCreatePreMulSum).
constexpr int kMulSum = mrdNumOps;
constexpr int kNumTestOps = mrdNumOps + 1;

struct Options {
  int nthreads = 1;
  size_t min_bytes = 32u << 20;
  size_t max_bytes = 32u << 20;
  size_t step_bytes = 1u << 20;
  size_t step_factor = 1;
  int iters = 20;
  int warmup_iters = -1;   // -1: enough for the library's trials (DefaultWarmupIters)
  int agg_iters = 1;
  int check = 1;           // check iterations per size and mode; 0 disables
  int op = mrdSum;         // an mrdRedOp_t, kMulSum or kAll
  int type = mrdFloat32;   // an mrdDataType_t or kAll
  int root = 0;            // a rank or kAll
  int blocking = 0;        // -z: wait (and barrier) after every timed iteration
  int stream_null = 0;     // -y: issue on the NULL stream instead of a stream
  int timeout_sec = 0;     // -T: 0 disables the watchdog
  int report_cputime = 0;  // -C: report the time to issue instead of to complete
  int average = 1;         // -a: 0 rank 0, 1 mean, 2 min, 3 max
  int parallel_init = 0;   // -p: accepted; ranks always initialise in parallel
  std::string json_path;   // -J
  std::string algo;        // -A: MRD_ALGO for this process ("" leaves it alone)
};

// Parses argv into *opts. Returns -1 to go on, else the exit status to leave
// with (0 after -h, non-zero after an error, with the message printed).
int ParseOptions(int argc, char** argv, Options* opts);
// "8", "64K", "1.5M", "2G" (binary units, either case); -1 when malformed.
double ParseSize(const char* text);
// -w's default: 1, or 4 x MRD_AUTOTUNE_ROUNDS + 1 (13) with MRD_AUTOTUNE=1.
int DefaultWarmupIters();

// "float", "f8e4m3", ...; "sum", "mulsum", ...
const char* TypeName(int type);
const char* OpName(int op);

}  // namespace mrdperf
