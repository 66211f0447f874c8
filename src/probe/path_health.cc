#include "probe/path_health.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "probe/number_text.h"

namespace mrd::probe {
namespace {

constexpr uint64_t kNsPerUs = 1000;
// The baseline window is kept as this many per-bucket minima.
constexpr uint64_t kBaseBucketsPerWindow = 4;

uint64_t since(uint64_t nowNs, uint64_t thenNs) { return nowNs > thenNs ? nowNs - thenNs : 0; }

}  // namespace

const char* pathStateName(PathState s) {
  switch (s) {
    case PathState::kHealthy: return "healthy";
    case PathState::kDegraded: return "degraded";
    case PathState::kDown: return "down";
  }
  return "unknown";
}

PathHealth::PathHealth(const ProbeConfig& config) : config_(config) {}

double PathHealth::baseRttUs() const {
  return static_cast<double>(std::max(baseMinNs_, config_.baseRttFloorUs * kNsPerUs)) / 1e3;
}

uint64_t PathHealth::thresholdNs() const {
  // A sibling path as slow as this one says the endpoints are slow (busy,
  // descheduled), not this path: the bar is relative to the best of them.
  uint64_t base = std::max({baseMinNs_, config_.baseRttFloorUs * kNsPerUs, siblingNetNs_});
  return base * static_cast<uint64_t>(std::max(config_.degradedRttFactor, 1));
}

void PathHealth::onRtt(uint64_t nowNs, uint64_t rttNs) { onRttSample(nowNs, rttNs, rttNs, true, 0); }

void PathHealth::onRttSample(uint64_t nowNs, uint64_t rttNs, uint64_t netRttNs, bool judge,
                             uint64_t siblingNetNs) {
  ++samples_;
  lastRttNs_ = rttNs;
  double w = config_.ewmaWeight();
  rttEwmaNs_ = samples_ == 1 ? static_cast<double>(rttNs)
                             : (1 - w) * rttEwmaNs_ + w * static_cast<double>(rttNs);
  if (rttRing_.size() < kRttWindow) {
    rttRing_.push_back(rttNs);
  } else {
    rttRing_[rttNext_] = rttNs;
    rttNext_ = (rttNext_ + 1) % kRttWindow;
  }
  lastProgressNs_ = nowNs;
  if (!judge) return;
  // (A net RTT of 0 is a real sample: the queueing explained it all.)
  presentEwmaNs_ = !judgedSeen_ ? static_cast<double>(rttNs)
                                : (1 - w) * presentEwmaNs_ + w * static_cast<double>(rttNs);
  netEwmaNs_ = !judgedSeen_ ? static_cast<double>(netRttNs)
                            : (1 - w) * netEwmaNs_ + w * static_cast<double>(netRttNs);
  judgedSeen_ = true;
  // The sample joins the baseline before it is judged: a path's first
  // samples set its baseline and cannot be bad against themselves.
  updateBaseline(nowNs, netRttNs);
  siblingNetNs_ = siblingNetNs;
  judgeRtt(nowNs, netRttNs);
}

void PathHealth::updateBaseline(uint64_t nowNs, uint64_t rttNs) {
  uint64_t windowNs = config_.baseRttWindowUs * kNsPerUs;
  uint64_t bucketNs = std::max<uint64_t>(windowNs / kBaseBucketsPerWindow, 1);
  if (baseBuckets_.empty() || since(nowNs, baseBuckets_.back().startNs) >= bucketNs) {
    baseBuckets_.push_back({nowNs, rttNs});
  } else {
    baseBuckets_.back().minNs = std::min(baseBuckets_.back().minNs, rttNs);
  }
  // While the path is unwell its old minima are held longer, so the episode
  // itself does not become the baseline.
  uint64_t keepNs = state_ == PathState::kHealthy
                        ? windowNs
                        : std::max(windowNs, config_.baseRttHoldUs * kNsPerUs);
  while (baseBuckets_.size() > 1 && since(nowNs, baseBuckets_.front().startNs) >= keepNs) {
    baseBuckets_.pop_front();
  }
  baseMinNs_ = baseBuckets_.front().minNs;
  for (const BaseBucket& b : baseBuckets_) baseMinNs_ = std::min(baseMinNs_, b.minNs);
}

void PathHealth::judgeRtt(uint64_t nowNs, uint64_t rttNs) {
  uint64_t thr = thresholdNs();
  int needed = std::max(config_.recoverSamples, 1);
  switch (state_) {
    case PathState::kHealthy:
      if (rttNs <= thr) {
        badRun_ = 0;
        return;
      }
      if (++badRun_ >= std::max(config_.degradeSamples, 1)) {
        setState(nowNs, PathState::kDegraded,
                 "rtt above " + fixedText(thr / 1e3, 1) + " us (" +
                     std::to_string(config_.degradedRttFactor) + "x base " +
                     fixedText(baseRttUs(), 1) + " us) on " + std::to_string(badRun_) +
                     " samples in a row");
      }
      return;
    case PathState::kDegraded: {
      // Hysteresis: healthy again only well below the threshold.
      uint64_t goodBelow = thr * static_cast<uint64_t>(config_.recoverBelowPct) / 100;
      if (rttNs >= goodBelow) {
        goodRun_ = 0;
        return;
      }
      if (++goodRun_ >= needed) {
        setState(nowNs, PathState::kHealthy,
                 std::to_string(goodRun_) + " samples in a row below " +
                     fixedText(goodBelow / 1e3, 1) + " us");
      }
      return;
    }
    case PathState::kDown:
      if (rttNs >= thr) {
        goodRun_ = 0;
        return;
      }
      if (++goodRun_ >= needed) {
        setState(nowNs, PathState::kDegraded,
                 std::to_string(goodRun_) + " probes in a row below " + fixedText(thr / 1e3, 1) +
                     " us");
      }
      return;
  }
}

void PathHealth::onProgress(uint64_t nowNs) { lastProgressNs_ = std::max(lastProgressNs_, nowNs); }

void PathHealth::onGoodput(uint64_t nowNs, uint64_t bytes, uint64_t busyNs) {
  if (busyNs == 0) return;
  double bps = static_cast<double>(bytes) * 1e9 / static_cast<double>(busyNs);
  double w = config_.ewmaWeight();
  goodputEwma_ = goodputSeen_ ? (1 - w) * goodputEwma_ + w * bps : bps;
  goodputSeen_ = true;
  // The windowed maximum: samples taken while an endpoint could not keep
  // up (busy, descheduled) are low for reasons not the path's; the best
  // recent one says what the path itself can carry.
  const uint64_t windowNs = config_.capacityWindowUs * kNsPerUs;
  while (!capacity_.empty() && since(nowNs, capacity_.front().first) > windowNs) capacity_.pop_front();
  while (!capacity_.empty() && capacity_.back().second <= bps) capacity_.pop_back();
  capacity_.emplace_back(nowNs, bps);
  if (bytes > 0) onProgress(nowNs);
}

void PathHealth::onOutstanding(uint64_t nowNs, bool outstanding) {
  if (outstanding && !outstanding_) outstandingSinceNs_ = nowNs;
  outstanding_ = outstanding;
}

void PathHealth::onError(uint64_t nowNs, const std::string& why) {
  goodRun_ = 0;
  if (state_ != PathState::kDown) setState(nowNs, PathState::kDown, why);
}

void PathHealth::tick(uint64_t nowNs) {
  if (!outstanding_ || state_ == PathState::kDown) return;
  uint64_t stalledNs = since(nowNs, std::max(outstandingSinceNs_, lastProgressNs_));
  if (stalledNs >= config_.downUs * kNsPerUs) {
    setState(nowNs, PathState::kDown,
             "no progress for " + std::to_string(stalledNs / kNsPerUs) + " us");
  }
}

bool PathHealth::probeDue(uint64_t nowNs, bool busy) const {
  if (!probeSent_) return true;
  uint64_t intervalUs =
      busy || state_ == PathState::kDown ? config_.intervalUs : config_.idleIntervalUs;
  return nowNs >= lastProbeNs_ && nowNs - lastProbeNs_ >= intervalUs * kNsPerUs;
}

void PathHealth::onProbeSent(uint64_t nowNs) {
  probeSent_ = true;
  lastProbeNs_ = nowNs;
}

double PathHealth::rttPercentileUs(double p) const {
  if (rttRing_.empty()) return 0;
  std::vector<uint64_t> v(rttRing_);
  double clamped = std::clamp(p, 0.0, 100.0);
  size_t rank = static_cast<size_t>(std::ceil(clamped * static_cast<double>(v.size()) / 100.0));
  size_t idx = std::clamp<size_t>(rank, 1, v.size()) - 1;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(idx), v.end());
  return static_cast<double>(v[idx]) / 1e3;
}

void PathHealth::setState(uint64_t nowNs, PathState to, std::string reason) {
  Transition t{nowNs, state_, to, std::move(reason)};
  state_ = to;
  badRun_ = 0;
  goodRun_ = 0;
  if (transitions_.size() >= kMaxTransitions) transitions_.erase(transitions_.begin());
  transitions_.push_back(t);
  if (onTransition_) onTransition_(transitions_.back());
}

}  // namespace mrd::probe
