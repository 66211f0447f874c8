// broadcast_perf: mrdBroadcast from the root. busbw = algbw.
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
  mrdperf::CheckCall(a.rank, a.comm, "mrdBroadcast",
                     mrdBroadcast(a.send, a.recv, a.count, a.type, a.root, a.comm, a.stream));
}

Source GetSource(size_t i, const Layout& l) { return Source{l.root, i}; }

double BusFactor(int /*nranks*/) { return 1.0; }

}  // namespace

int main(int argc, char** argv) {
  const mrdperf::CollSpec spec{false, true, GetCounts, Run, GetSource, nullptr, BusFactor};
  return mrdperf::PerfMain(argc, argv, spec);
}
