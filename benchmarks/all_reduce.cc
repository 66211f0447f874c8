// all_reduce_perf: mrdAllReduce. busbw = algbw * 2(n-1)/n.
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
  mrdperf::CheckCall(a.rank, a.comm, "mrdAllReduce",
                     mrdAllReduce(a.send, a.recv, a.count, a.type, a.op, a.comm, a.stream));
}

Source GetSource(size_t i, const Layout& /*layout*/) { return Source{mrdperf::kAllRanks, i}; }

double BusFactor(int n) { return 2.0 * (n - 1) / n; }

}  // namespace

int main(int argc, char** argv) {
  const mrdperf::CollSpec spec{true, false, GetCounts, Run, GetSource, nullptr, BusFactor};
  return mrdperf::PerfMain(argc, argv, spec);
}
