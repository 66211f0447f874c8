// reduce_perf: mrdReduce to the root. busbw = algbw.
#include "common/perf_driver.h"

namespace {

using mrdperf::Counts;
using mrdperf::Layout;
using mrdperf::RunArgs;
using mrdperf::Source;

Counts GetCounts(size_t count, size_t /*elt_size*/, int /*nranks*/) {
  return Counts{count, count, count, 0, 0};
}

void Run(const RunArgs& a) {
  mrdperf::CheckCall(a.rank, a.comm, "mrdReduce",
                     mrdReduce(a.send, a.recv, a.count, a.type, a.op, a.root, a.comm, a.stream));
}

Source GetSource(size_t i, const Layout& /*layout*/) { return Source{mrdperf::kAllRanks, i}; }

bool Receives(int rank, int root) { return rank == root; }

double BusFactor(int /*nranks*/) { return 1.0; }

}  // namespace

int main(int argc, char** argv) {
  const mrdperf::CollSpec spec{true, true, GetCounts, Run, GetSource, Receives, BusFactor};
  return mrdperf::PerfMain(argc, argv, spec);
}
