#include "probe/probe_config.h"

#include <algorithm>

namespace mrd::probe {
namespace {

uint64_t clampU(int64_t v, int64_t lo, int64_t hi) {
  return static_cast<uint64_t>(std::clamp(v, lo, hi));
}

int clampI(int64_t v, int64_t lo, int64_t hi) { return static_cast<int>(std::clamp(v, lo, hi)); }

}  // namespace

ProbeConfig probeConfigFromParams(const config::Params& p) {
  ProbeConfig c;
  c.intervalUs = clampU(p.probeIntervalUs, 1, 10'000'000);
  c.idleIntervalUs = clampU(p.probeIdleIntervalUs, 1, 100'000'000);
  c.degradedRttFactor = clampI(p.probeDegradedRtt, 2, 1000);
  c.downUs = clampU(p.probeDownUs, 1, 600'000'000);
  c.recoverSamples = clampI(p.probeRecover, 1, 1000);
  c.ewmaPct = clampI(p.probeEwmaPct, 1, 100);
  c.logPattern = p.probeLog;
  c.logIntervalUs = clampU(p.probeLogIntervalUs, 0, 600'000'000);
  c.relaySlowPct = clampI(p.probeRelaySlowPct, 0, 90);
  c.relayCpuBoundPct = clampI(p.probeRelayCpuPct, 1, 100);
  c.peerLostUs = clampU(p.probePeerLostMs, 0, 2147483647) * 1000;
  return c;
}

}  // namespace mrd::probe
