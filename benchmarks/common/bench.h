// The measurement loop of one rank: sizes x types x ops x roots, each timed
// out-of-place and in-place, then checked.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/options.h"
#include "common/perf_driver.h"
#include "common/report.h"
#include "common/watchdog.h"
#include "meridian/meridian.h"

namespace mrdperf {

struct RankContext {
  const Options* opts = nullptr;
  const CollSpec* spec = nullptr;
  Watchdog* watchdog = nullptr;
  Reporter* reporter = nullptr;  // set on rank 0 only
  int slot = 0;                  // index of this rank among the process's threads
  int rank = 0;
  int nranks = 1;
  mrdComm_t comm = nullptr;
  mrdStream_t stream = nullptr;  // nullptr with -y 1
  unsigned char* sendbuf = nullptr;
  unsigned char* recvbuf = nullptr;
  // Totals over the run, identical on every rank.
  double busbw_sum = 0.0;
  int busbw_count = 0;
  // (size, mode) checks that found wrong elements on this rank.
  int64_t local_errors = 0;
  uint64_t check_seed = 0;
};

// Bytes each of sendbuf and recvbuf must hold for opts->max_bytes.
size_t BufferBytes(const Options& opts, const CollSpec& spec, int nranks);

// Runs every test the options select.
void RunAllTests(RankContext* ctx);

}  // namespace mrdperf
