// sendrecv_perf: each rank sends to (rank+1)%n and receives from
// (rank-1+n)%n inside one group. busbw = algbw.
#include "common/perf_driver.h"

namespace {

using mrdperf::CheckCall;
using mrdperf::Counts;
using mrdperf::Layout;
using mrdperf::RunArgs;
using mrdperf::Source;

Counts GetCounts(size_t count, size_t /*elt_size*/, int /*nranks*/) {
  return Counts{count, count, count, 0, 0};
}

void Run(const RunArgs& a) {
  const int next = (a.rank + 1) % a.nranks;
  const int prev = (a.rank - 1 + a.nranks) % a.nranks;
  CheckCall(a.rank, nullptr, "mrdGroupStart", mrdGroupStart());
  CheckCall(a.rank, a.comm, "mrdSend", mrdSend(a.send, a.count, a.type, next, a.comm, a.stream));
  CheckCall(a.rank, a.comm, "mrdRecv", mrdRecv(a.recv, a.count, a.type, prev, a.comm, a.stream));
  CheckCall(a.rank, a.comm, "mrdGroupEnd", mrdGroupEnd());
}

Source GetSource(size_t i, const Layout& l) {
  return Source{(l.rank - 1 + l.nranks) % l.nranks, i};
}

double BusFactor(int /*nranks*/) { return 1.0; }

}  // namespace

int main(int argc, char** argv) {
  // In place (one buffer for both) the receive may overwrite data before it
  // is sent; like nccl-tests, that variant is timed but not checked.
  const mrdperf::CollSpec spec{false, false, GetCounts, Run, GetSource, nullptr, BusFactor, false};
  return mrdperf::PerfMain(argc, argv, spec);
}
