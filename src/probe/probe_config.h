// Settings of the link-quality probe (src/probe): how often each path is
// pinged, when a path counts as degraded or down, and how it comes back.
// The MRD_PROBE_* variables are read once per process into config::Params;
// probeConfigFromParams() turns them into this struct. A default-constructed
// ProbeConfig holds the documented defaults, so tests and tools need no
// environment.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "config/params.h"

namespace mrd::probe {

struct ProbeConfig {
  // Ping interval per path while the link carries traffic, and for a path
  // that is down (so it can come back). MRD_PROBE_INTERVAL_US.
  uint64_t intervalUs = 100;
  // Ping interval once the link has carried nothing for a while (the link
  // layer decides what "a while" is). MRD_PROBE_IDLE_INTERVAL_US.
  uint64_t idleIntervalUs = 10000;
  // An RTT above this many times the path's baseline RTT is a bad sample.
  // MRD_PROBE_DEGRADED_RTT.
  int degradedRttFactor = 4;
  // A path with data or a probe outstanding and no progress for this long is
  // down. MRD_PROBE_DOWN_US.
  uint64_t downUs = 2000;
  // Consecutive good samples a down path needs to become degraded, and a
  // degraded path to become healthy. MRD_PROBE_RECOVER.
  int recoverSamples = 5;
  // Weight of a new sample in the RTT and goodput EWMAs, in percent.
  // MRD_PROBE_EWMA_PCT.
  int ewmaPct = 25;
  // JSON-lines probe log; %h host, %p pid, %r rank; empty: none. MRD_PROBE_LOG.
  std::string logPattern;
  // At most one sample line per path per this interval (state changes are
  // always written). MRD_PROBE_LOG_INTERVAL_US.
  uint64_t logIntervalUs = 1000;
  // With ranks on three or more hosts (relay_router.h): a link whose
  // paths together carry less than this percentage of its share of its
  // own best of the last seconds (shared with the rank's other links busy
  // at the time), or of what another link of the rank carries, for 10 x
  // downUs while it owes data, and whose peer's kernel is not the one
  // holding the data (the network is slow, not the peer), opens its relay
  // lane beside the paths; each chunk then takes the lane that delivers it
  // soonest. 0 (the default): relay only when every path is cut; 25 is
  // what the tests use. Off by default: on unshaped links its reference
  // (a best capacity sample) is inflated and under CPU overload healthy
  // links were judged slow, which made operations during a cut slower
  // (README). MRD_PROBE_RELAY_SLOW_PCT.
  int relaySlowPct = 0;
  // ... unless this machine's tasks waited for a CPU at least this
  // percentage of the time the paths looked slow (Linux PSI,
  // /proc/pressure/cpu "some"; link/cpu_pressure.h): then the CPU is short,
  // not the network, and a relay would cost more CPU. 100: never held back.
  // Without PSI nothing is held back. MRD_PROBE_RELAY_CPU_PCT.
  int relayCpuBoundPct = 75;
  // Reads how long tasks have waited for a CPU (us, cumulative); empty: the
  // kernel's (link/cpu_pressure.h). Tests give their own; one returning
  // false holds nothing back.
  std::function<bool(uint64_t* waitedUs)> cpuWaitUs;
  // A link that waits on its peer (a receive posted, a send not
  // acknowledged) and hears nothing from the peer's kernel on any path
  // (TCP_INFO; a small frame keeps a question outstanding) and no relayed
  // ack for this long fails with the peer named: its host, or every
  // network path to it, is gone (a live peer's kernel answers whatever its
  // process does). 0: never (MRD_TIMEOUT_MS then). MRD_PROBE_PEER_LOST_MS.
  uint64_t peerLostUs = 1'000'000;

  // Fixed (not read from the environment).
  // Consecutive bad samples that turn a healthy path degraded.
  int degradeSamples = 3;
  // Hysteresis: degraded -> healthy needs samples below this percentage of
  // the degraded threshold.
  int recoverBelowPct = 75;
  // The baseline RTT is the minimum over this window, and never below the floor
  // (loopback and same-switch RTTs are too small to scale from).
  uint64_t baseRttWindowUs = 4'000'000;
  uint64_t baseRttFloorUs = 20;
  // While a path is not healthy its old minima are kept this long instead, so
  // a congestion episode longer than the window does not become the new
  // baseline (a lasting change of route is accepted after this).
  uint64_t baseRttHoldUs = 60'000'000;
  // A path's capacity is its best goodput sample over this window: long
  // enough to hold a sample from a moment the endpoints kept up, short
  // enough that a path that slows down is believed within it.
  uint64_t capacityWindowUs = 50'000;

  double ewmaWeight() const { return ewmaPct / 100.0; }
};

// The probe settings from the process parameters. Values out of range (a
// hand-filled Params) are clamped to the nearest sane one.
ProbeConfig probeConfigFromParams(const config::Params& params);

}  // namespace mrd::probe
