// The health of one path of a link (one NIC pair / rail): RTT and goodput
// estimates, and a healthy / degraded / down state with hysteresis, driven by
// the samples the link layer feeds in.
//
// Time is passed in by the caller (CLOCK_MONOTONIC nanoseconds), never read
// here, so tests drive it with synthetic clocks. Nothing blocks.
//
// Not thread-safe: one PathHealth belongs to the thread that progresses its
// link (samples, tick and the accessors from that thread only). The
// transition callback runs on that thread, inside the call that caused the
// change; it must not call back into this PathHealth's mutators.
//
// The rules (N = ProbeConfig::recoverSamples, thr = degradedRttFactor x
// baseline RTT, baseline = minimum RTT of the last few seconds, at least
// baseRttFloorUs):
//   healthy  -> degraded  degradeSamples (3) RTT samples in a row above thr;
//   degraded -> healthy   N samples in a row below recoverBelowPct (75%) of
//                         thr (a sample in between restarts the count);
//   any      -> down      a socket error (onError), or no progress for downUs
//                         while something is outstanding (found by tick);
//   down     -> degraded  N probes in a row below thr (then degraded ->
//                         healthy as above); a bad probe restarts the count.
// Each sample is judged on its own: the counts are the smoothing. Samples
// are judged on their net RTT (onRttSample) and not at all when an end was
// away; the raw RTT EWMA and percentiles are statistics, the net RTT EWMA
// is what the scheduler adds per chunk.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "probe/probe_config.h"

namespace mrd::probe {

enum class PathState { kHealthy, kDegraded, kDown };

// "healthy", "degraded", "down".
const char* pathStateName(PathState s);

struct Transition {
  uint64_t atNs = 0;
  PathState from = PathState::kHealthy;
  PathState to = PathState::kHealthy;
  std::string reason;
};

class PathHealth {
 public:
  using TransitionCallback = std::function<void(const Transition&)>;

  // Transitions kept for transitions().
  static constexpr size_t kMaxTransitions = 64;
  // RTT samples kept for rttPercentileUs().
  static constexpr size_t kRttWindow = 1024;

  explicit PathHealth(const ProbeConfig& config = ProbeConfig());

  // Invoked after every state change (see the thread note above).
  void setTransitionCallback(TransitionCallback cb) { onTransition_ = std::move(cb); }

  // A probe answer: one RTT sample. Also counts as progress.
  void onRtt(uint64_t nowNs, uint64_t rttNs);
  // A probe answer whose round trip `rttNs` includes time the probe spent
  // queued behind data or waiting for an endpoint that was not reading:
  // netRttNs is the round trip without the queueing the link can account
  // for. rttNs feeds the statistics (EWMA, percentiles); netRttNs the
  // baseline and the healthy/degraded judgement, and only when `judge`
  // (false: an endpoint was away, the sample says nothing of the network).
  // siblingNetNs: the smoothed net RTT of the best other live path to the
  // same peer (0: none); a sample is bad only above degradedRttFactor times
  // the larger of this path's baseline and that, so load that slows every
  // path alike (busy or descheduled endpoints) degrades none of them.
  void onRttSample(uint64_t nowNs, uint64_t rttNs, uint64_t netRttNs, bool judge,
                   uint64_t siblingNetNs);
  // EWMA of the judged net RTT samples (0: none yet).
  double netRttEwmaUs() const { return netEwmaNs_ / 1e3; }
  // EWMA of the whole round trips of the judged samples (both ends were
  // reading): the path's RTT under its present load, queues included.
  double loadedRttEwmaUs() const { return presentEwmaNs_ / 1e3; }
  // Data was acknowledged or moved on the path.
  void onProgress(uint64_t nowNs);
  // Passive goodput: `bytes` delivered over `busyNs` of the path being busy.
  // Ignored when busyNs is 0; with bytes > 0 it also counts as progress.
  void onGoodput(uint64_t nowNs, uint64_t bytes, uint64_t busyNs);
  // Whether the path has unacknowledged data or an unanswered probe. The
  // stall clock runs only while this is true; it starts at the later of the
  // moment it became true and the last progress.
  void onOutstanding(uint64_t nowNs, bool outstanding);
  // A socket (or transport) error: down at once, with `why` as the reason.
  // On a down path it restarts the recovery count.
  void onError(uint64_t nowNs, const std::string& why);
  // Evaluates the stall rule; call it regularly (every progress round).
  void tick(uint64_t nowNs);

  // Whether a probe should be sent now: the busy interval while the link is
  // busy or the path is down, the idle interval otherwise; true before the
  // first probe.
  bool probeDue(uint64_t nowNs, bool busy) const;
  void onProbeSent(uint64_t nowNs);

  PathState state() const { return state_; }
  // The last RTT sample, its EWMA, and the baseline; 0 until the first sample
  // (the baseline is then the floor).
  double lastRttUs() const { return lastRttNs_ / 1e3; }
  double rttEwmaUs() const { return rttEwmaNs_ / 1e3; }
  double baseRttUs() const;
  // RTT above which a sample is bad.
  double degradedThresholdUs() const { return thresholdNs() / 1e3; }
  // EWMA of the goodput samples, bytes/s; 0 until measured.
  double goodputBps() const { return goodputEwma_; }
  // The largest goodput sample of the last capacityWindowUs (before the
  // newest sample), bytes/s: what the path carries when the endpoints keep
  // up; 0 until measured. The scheduler ranks paths by it.
  double capacityBps() const { return capacity_.empty() ? 0.0 : capacity_.front().second; }
  // The p-th percentile (p in [0, 100], nearest rank) of the last kRttWindow
  // RTT samples; 0 without samples. Copies the window: not for every packet.
  double rttPercentileUs(double p) const;
  // RTT samples seen since construction.
  uint64_t samples() const { return samples_; }
  // The last kMaxTransitions state changes, oldest first.
  const std::vector<Transition>& transitions() const { return transitions_; }
  const ProbeConfig& config() const { return config_; }

 private:
  struct BaseBucket {
    uint64_t startNs;
    uint64_t minNs;
  };

  void updateBaseline(uint64_t nowNs, uint64_t rttNs);
  void judgeRtt(uint64_t nowNs, uint64_t rttNs);
  void setState(uint64_t nowNs, PathState to, std::string reason);
  uint64_t thresholdNs() const;

  ProbeConfig config_;
  TransitionCallback onTransition_;
  PathState state_ = PathState::kHealthy;

  // RTT.
  uint64_t samples_ = 0;
  uint64_t lastRttNs_ = 0;
  double rttEwmaNs_ = 0;
  double netEwmaNs_ = 0;
  double presentEwmaNs_ = 0;
  bool judgedSeen_ = false;  // netEwmaNs_ and presentEwmaNs_ hold a sample
  uint64_t siblingNetNs_ = 0;  // of the sample being judged
  std::vector<uint64_t> rttRing_;  // up to kRttWindow, oldest overwritten
  size_t rttNext_ = 0;
  std::deque<BaseBucket> baseBuckets_;  // per-bucket minima, oldest first
  uint64_t baseMinNs_ = 0;              // minimum over baseBuckets_; 0: none

  // Hysteresis counters: consecutive bad (healthy) or good (degraded, down).
  int badRun_ = 0;
  int goodRun_ = 0;

  // Goodput.
  double goodputEwma_ = 0;
  bool goodputSeen_ = false;
  std::deque<std::pair<uint64_t, double>> capacity_;  // (time, bytes/s), decreasing rates

  // Stall clock.
  bool outstanding_ = false;
  uint64_t outstandingSinceNs_ = 0;
  uint64_t lastProgressNs_ = 0;

  // Probe pacing.
  bool probeSent_ = false;
  uint64_t lastProbeNs_ = 0;

  std::vector<Transition> transitions_;
};

}  // namespace mrd::probe
