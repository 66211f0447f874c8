// The clock of link timestamps, probes and stall checks: CLOCK_MONOTONIC
// in nanoseconds (what transport::ProbeSample, frame pings and the probe
// log carry).
#pragma once

#include <time.h>

#include <cstdint>

namespace mrd {

inline uint64_t monotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace mrd
