// reduce_scatter_perf: mrdReduceScatter. The size is the whole send buffer,
// n blocks of count elements. busbw = algbw * (n-1)/n.
#include "common/perf_driver.h"

namespace {

using mrdperf::Counts;
using mrdperf::Layout;
using mrdperf::RunArgs;
using mrdperf::Source;

Counts GetCounts(size_t count, size_t elt_size, int nranks) {
  const size_t base = mrdperf::PerRankCount(count, elt_size, nranks);
  return Counts{base * nranks, base, base, 0, base};
}

void Run(const RunArgs& a) {
  mrdperf::CheckCall(a.rank, a.comm, "mrdReduceScatter",
                     mrdReduceScatter(a.send, a.recv, a.count, a.type, a.op, a.comm, a.stream));
}

Source GetSource(size_t i, const Layout& l) {
  return Source{mrdperf::kAllRanks, static_cast<size_t>(l.rank) * l.count + i};
}

double BusFactor(int n) { return static_cast<double>(n - 1) / n; }

}  // namespace

int main(int argc, char** argv) {
  const mrdperf::CollSpec spec{true, false, GetCounts, Run, GetSource, nullptr, BusFactor};
  return mrdperf::PerfMain(argc, argv, spec);
}
