// The shared driver of the *_perf benchmarks (nccl-tests conventions).
//
// Each benchmark describes its collective with a CollSpec and calls
// PerfMain from main(); the driver parses the flags, sets up the ranks
// (threads of this process, or one rank per process under a launcher),
// sweeps sizes, types, ops and roots, times, checks and reports.
#pragma once

#include <cstddef>

#include "common/data_check.h"
#include "meridian/meridian.h"

namespace mrdperf {

// Element counts of one call, as nccl-tests' getCollByteCount. The in-place
// variant puts both pointers inside the receive buffer: sendbuff at
// recvbuff + rank * send_inplace_offset, recvbuff at
// recvbuff + rank * recv_inplace_offset.
struct Counts {
  size_t send = 0;   // elements of this rank's send buffer
  size_t recv = 0;   // elements of this rank's receive buffer
  size_t param = 0;  // the count argument of the call
  size_t send_inplace_offset = 0;
  size_t recv_inplace_offset = 0;
};

struct RunArgs {
  const void* send;
  void* recv;
  size_t count;
  mrdDataType_t type;
  mrdRedOp_t op;
  int root;
  int rank;
  int nranks;
  mrdComm_t comm;
  mrdStream_t stream;
};

struct CollSpec {
  bool reduces;  // takes -o; inputs are numeric and results checked as such
  bool rooted;   // takes -r
  // Counts for a size of `count` elements of elt_size bytes over nranks.
  Counts (*counts)(size_t count, size_t elt_size, int nranks);
  // Issues the operation; uses CheckCall on each mrd* call.
  void (*run)(const RunArgs& args);
  // The expected value of each received element.
  SourceFn source;
  // Whether `rank` receives a result to check (nullptr: every rank).
  bool (*receives)(int rank, int root);
  // busbw = algbw * bus_factor(nranks).
  double (*bus_factor)(int nranks);
  // false: the in-place variant is timed but not checked, its #wrong shows
  // N/A (sendrecv, whose in-place form races as in nccl-tests).
  bool check_in_place = true;
};

// On failure prints "rank R: <call> failed: <error string> (<last error>)"
// and ends the process with a non-zero status.
void CheckCall(int rank, mrdComm_t comm, const char* call, mrdResult_t result);

// Counts of the collectives whose per-rank block is count / nranks elements,
// rounded down to a multiple of 16 bytes (as nccl-tests).
size_t PerRankCount(size_t count, size_t elt_size, int nranks);

// Runs the benchmark; returns the process exit status.
int PerfMain(int argc, char** argv, const CollSpec& spec);

}  // namespace mrdperf
