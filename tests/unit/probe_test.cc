// src/probe: path health state machine (synthetic time), the probe log, and
// TCP_INFO on a loopback connection.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "config/params.h"
#include "probe/path_health.h"
#include "probe/probe_config.h"
#include "probe/probe_log.h"
#include "probe/tcp_info.h"

namespace mrd::probe {
namespace {

constexpr uint64_t kUs = 1000;
constexpr uint64_t kT0 = 1'000'000'000;  // synthetic CLOCK_MONOTONIC start

// A healthy path with a baseline of `baseUs`, fed `n` samples 100 us apart.
// Returns the time after the last one.
uint64_t warmUp(PathHealth* h, uint64_t baseUs, int n = 10, uint64_t t = kT0) {
  for (int i = 0; i < n; ++i, t += 100 * kUs) h->onRtt(t, baseUs * kUs);
  return t;
}

TEST(ProbeConfig, Defaults) {
  ProbeConfig c;
  EXPECT_EQ(c.intervalUs, 100u);
  EXPECT_EQ(c.idleIntervalUs, 10000u);
  EXPECT_EQ(c.degradedRttFactor, 4);
  EXPECT_EQ(c.downUs, 2000u);
  EXPECT_EQ(c.recoverSamples, 5);
  EXPECT_EQ(c.ewmaPct, 25);
  EXPECT_DOUBLE_EQ(c.ewmaWeight(), 0.25);
  EXPECT_EQ(c.logPattern, "");
  EXPECT_EQ(c.logIntervalUs, 1000u);
  EXPECT_EQ(c.degradeSamples, 3);
  EXPECT_EQ(c.recoverBelowPct, 75);
  EXPECT_EQ(c.baseRttFloorUs, 20u);
}

TEST(ProbeConfig, DefaultParamsGiveTheDefaults) {
  ProbeConfig fromParams = probeConfigFromParams(config::Params());
  ProbeConfig c;
  EXPECT_EQ(fromParams.intervalUs, c.intervalUs);
  EXPECT_EQ(fromParams.idleIntervalUs, c.idleIntervalUs);
  EXPECT_EQ(fromParams.degradedRttFactor, c.degradedRttFactor);
  EXPECT_EQ(fromParams.downUs, c.downUs);
  EXPECT_EQ(fromParams.recoverSamples, c.recoverSamples);
  EXPECT_EQ(fromParams.ewmaPct, c.ewmaPct);
  EXPECT_EQ(fromParams.logPattern, c.logPattern);
  EXPECT_EQ(fromParams.logIntervalUs, c.logIntervalUs);
  EXPECT_EQ(fromParams.relaySlowPct, c.relaySlowPct);
  EXPECT_EQ(fromParams.relayCpuBoundPct, c.relayCpuBoundPct);
}

TEST(ProbeConfig, FromHandFilledParams) {
  config::Params p;
  p.probeIntervalUs = 250;
  p.probeIdleIntervalUs = 50000;
  p.probeDegradedRtt = 8;
  p.probeDownUs = 5000;
  p.probeRecover = 7;
  p.probeEwmaPct = 10;
  p.probeLog = "/tmp/probe.%r.jsonl";
  p.probeLogIntervalUs = 0;
  p.probeRelaySlowPct = 40;
  p.probeRelayCpuPct = 60;
  ProbeConfig c = probeConfigFromParams(p);
  EXPECT_EQ(c.intervalUs, 250u);
  EXPECT_EQ(c.idleIntervalUs, 50000u);
  EXPECT_EQ(c.degradedRttFactor, 8);
  EXPECT_EQ(c.downUs, 5000u);
  EXPECT_EQ(c.recoverSamples, 7);
  EXPECT_EQ(c.ewmaPct, 10);
  EXPECT_DOUBLE_EQ(c.ewmaWeight(), 0.10);
  EXPECT_EQ(c.logPattern, "/tmp/probe.%r.jsonl");
  EXPECT_EQ(c.logIntervalUs, 0u);
  EXPECT_EQ(c.relaySlowPct, 40);
  EXPECT_EQ(c.relayCpuBoundPct, 60);

  // Nonsense in a hand-filled Params is clamped, not trusted.
  p.probeIntervalUs = -5;
  p.probeDegradedRtt = 0;
  p.probeRecover = 0;
  p.probeEwmaPct = 400;
  p.probeRelaySlowPct = 95;
  p.probeRelayCpuPct = 0;
  c = probeConfigFromParams(p);
  EXPECT_EQ(c.intervalUs, 1u);
  EXPECT_EQ(c.degradedRttFactor, 2);
  EXPECT_EQ(c.recoverSamples, 1);
  EXPECT_EQ(c.ewmaPct, 100);
  EXPECT_EQ(c.relaySlowPct, 90);
  EXPECT_EQ(c.relayCpuBoundPct, 1);
}

TEST(ProbeConfig, VariablesAreDocumented) {
  std::map<std::string, std::string> docs;
  for (const config::ParamDoc& d : config::paramTable()) docs[d.name] = d.defaultValue;
  EXPECT_EQ(docs["MRD_PROBE_INTERVAL_US"], "100");
  EXPECT_EQ(docs["MRD_PROBE_IDLE_INTERVAL_US"], "10000");
  EXPECT_EQ(docs["MRD_PROBE_DEGRADED_RTT"], "4");
  EXPECT_EQ(docs["MRD_PROBE_DOWN_US"], "2000");
  EXPECT_EQ(docs["MRD_PROBE_RECOVER"], "5");
  EXPECT_EQ(docs["MRD_PROBE_EWMA_PCT"], "25");
  EXPECT_EQ(docs.count("MRD_PROBE_LOG"), 1u);
  EXPECT_EQ(docs["MRD_PROBE_LOG_INTERVAL_US"], "1000");
  EXPECT_EQ(docs["MRD_PROBE_RELAY_SLOW_PCT"], "0");
  EXPECT_EQ(docs["MRD_PROBE_RELAY_CPU_PCT"], "75");
}

TEST(PathHealth, StartsHealthyWithNothingMeasured) {
  PathHealth h;
  EXPECT_EQ(h.state(), PathState::kHealthy);
  EXPECT_EQ(h.samples(), 0u);
  EXPECT_EQ(h.rttEwmaUs(), 0);
  EXPECT_EQ(h.goodputBps(), 0);
  EXPECT_EQ(h.rttPercentileUs(50), 0);
  EXPECT_DOUBLE_EQ(h.baseRttUs(), 20.0);  // the floor
  EXPECT_TRUE(h.transitions().empty());
  EXPECT_STREQ(pathStateName(PathState::kHealthy), "healthy");
  EXPECT_STREQ(pathStateName(PathState::kDegraded), "degraded");
  EXPECT_STREQ(pathStateName(PathState::kDown), "down");
}

// The link subtracts the queueing it can account for (netRttNs) and marks
// samples taken while an endpoint was away as not to be judged; a sibling
// path as slow as this one raises the bar.
TEST(PathHealth, JudgesTheNetRttAgainstTheBestSibling) {
  PathHealth h;
  uint64_t t = warmUp(&h, 30);
  // Raw RTTs of 5 ms, but all of it queueing: no bad sample.
  for (int i = 0; i < 10; ++i) h.onRttSample(t += 100 * kUs, 5000 * kUs, 25 * kUs, true, 0);
  EXPECT_EQ(h.state(), PathState::kHealthy);
  EXPECT_GT(h.rttEwmaUs(), 4000.0) << "the statistics keep the raw round trip";
  EXPECT_NEAR(h.netRttEwmaUs(), 25.0, 5.0);
  // Samples not to be judged change neither the state nor the baseline.
  for (int i = 0; i < 10; ++i) h.onRttSample(t += 100 * kUs, 9000 * kUs, 9000 * kUs, false, 0);
  EXPECT_EQ(h.state(), PathState::kHealthy);
  EXPECT_DOUBLE_EQ(h.baseRttUs(), 25.0);
  // 2 ms net, but the best sibling path sees 1 ms too: the endpoints are slow.
  for (int i = 0; i < 10; ++i) h.onRttSample(t += 100 * kUs, 2000 * kUs, 2000 * kUs, true, 1000 * kUs);
  EXPECT_EQ(h.state(), PathState::kHealthy);
  // The sibling is fast again (100 us): this path is 20x slower, bad.
  for (int i = 0; i < 3; ++i) h.onRttSample(t += 100 * kUs, 2000 * kUs, 2000 * kUs, true, 100 * kUs);
  EXPECT_EQ(h.state(), PathState::kDegraded);
}

TEST(PathHealth, DegradesAfterThreeBadSamplesNotTwo) {
  PathHealth h;
  uint64_t t = warmUp(&h, 30);
  EXPECT_DOUBLE_EQ(h.baseRttUs(), 30.0);
  EXPECT_DOUBLE_EQ(h.degradedThresholdUs(), 120.0);

  // Two bad samples, then a good one: the run restarts.
  h.onRtt(t += 100 * kUs, 300 * kUs);
  h.onRtt(t += 100 * kUs, 300 * kUs);
  EXPECT_EQ(h.state(), PathState::kHealthy);
  h.onRtt(t += 100 * kUs, 30 * kUs);
  h.onRtt(t += 100 * kUs, 300 * kUs);
  h.onRtt(t += 100 * kUs, 300 * kUs);
  EXPECT_EQ(h.state(), PathState::kHealthy) << "2 bad samples in a row must not degrade";
  // A sample at exactly the threshold is not bad.
  h.onRtt(t += 100 * kUs, 120 * kUs);
  h.onRtt(t += 100 * kUs, 300 * kUs);
  h.onRtt(t += 100 * kUs, 300 * kUs);
  EXPECT_EQ(h.state(), PathState::kHealthy);
  h.onRtt(t += 100 * kUs, 300 * kUs);
  EXPECT_EQ(h.state(), PathState::kDegraded);
  ASSERT_EQ(h.transitions().size(), 1u);
  const Transition& tr = h.transitions()[0];
  EXPECT_EQ(tr.atNs, t);
  EXPECT_EQ(tr.from, PathState::kHealthy);
  EXPECT_EQ(tr.to, PathState::kDegraded);
  EXPECT_NE(tr.reason.find("120.0 us"), std::string::npos) << tr.reason;
  EXPECT_NE(tr.reason.find("3 samples"), std::string::npos) << tr.reason;
}

TEST(PathHealth, RecoversFromDegradedWithHysteresis) {
  PathHealth h;
  uint64_t t = warmUp(&h, 30);
  for (int i = 0; i < 3; ++i) h.onRtt(t += 100 * kUs, 300 * kUs);
  ASSERT_EQ(h.state(), PathState::kDegraded);
  // Threshold 120 us; healthy again needs 5 in a row below 90 us.
  for (int i = 0; i < 4; ++i) h.onRtt(t += 100 * kUs, 30 * kUs);
  EXPECT_EQ(h.state(), PathState::kDegraded);
  // Between 0.75x and 1x the threshold: not bad, but not good enough either.
  h.onRtt(t += 100 * kUs, 100 * kUs);
  EXPECT_EQ(h.state(), PathState::kDegraded);
  for (int i = 0; i < 4; ++i) h.onRtt(t += 100 * kUs, 30 * kUs);
  EXPECT_EQ(h.state(), PathState::kDegraded) << "the in-between sample must restart the count";
  // Samples in the hysteresis band never bring it back.
  for (int i = 0; i < 20; ++i) h.onRtt(t += 100 * kUs, 110 * kUs);
  EXPECT_EQ(h.state(), PathState::kDegraded);
  for (int i = 0; i < 4; ++i) h.onRtt(t += 100 * kUs, 89 * kUs);
  EXPECT_EQ(h.state(), PathState::kDegraded);
  h.onRtt(t += 100 * kUs, 89 * kUs);
  EXPECT_EQ(h.state(), PathState::kHealthy);
  ASSERT_EQ(h.transitions().size(), 2u);
  EXPECT_EQ(h.transitions()[1].from, PathState::kDegraded);
  EXPECT_EQ(h.transitions()[1].to, PathState::kHealthy);
  EXPECT_EQ(h.transitions()[1].atNs, t);
  EXPECT_NE(h.transitions()[1].reason.find("below 90.0 us"), std::string::npos)
      << h.transitions()[1].reason;
}

TEST(PathHealth, BaselineHasAFloor) {
  PathHealth h;
  uint64_t t = warmUp(&h, 5);  // loopback-like: 5 us
  EXPECT_DOUBLE_EQ(h.baseRttUs(), 20.0);
  EXPECT_DOUBLE_EQ(h.degradedThresholdUs(), 80.0);
  for (int i = 0; i < 3; ++i) h.onRtt(t += 100 * kUs, 60 * kUs);  // 12x the raw minimum
  EXPECT_EQ(h.state(), PathState::kHealthy);
  for (int i = 0; i < 3; ++i) h.onRtt(t += 100 * kUs, 81 * kUs);
  EXPECT_EQ(h.state(), PathState::kDegraded);
}

TEST(PathHealth, BaselineIsTheRecentMinimumAndHeldWhileUnwell) {
  PathHealth h;
  uint64_t t = warmUp(&h, 30);
  // Healthy at 50 us for 5 s: the 30 us minimum ages out of the window.
  for (int i = 0; i < 50; ++i) h.onRtt(t += 100'000 * kUs, 50 * kUs);
  EXPECT_DOUBLE_EQ(h.baseRttUs(), 50.0);
  // Degraded: the baseline does not follow the bad RTT up, even after 5 s.
  for (int i = 0; i < 3; ++i) h.onRtt(t += 100 * kUs, 1000 * kUs);
  ASSERT_EQ(h.state(), PathState::kDegraded);
  for (int i = 0; i < 50; ++i) h.onRtt(t += 100'000 * kUs, 1000 * kUs);
  EXPECT_DOUBLE_EQ(h.baseRttUs(), 50.0);
  EXPECT_EQ(h.state(), PathState::kDegraded);
  // A lasting change is accepted after the hold time (60 s).
  for (int i = 0; i < 80; ++i) h.onRtt(t += 1'000'000 * kUs, 1000 * kUs);
  EXPECT_DOUBLE_EQ(h.baseRttUs(), 1000.0);
  EXPECT_EQ(h.state(), PathState::kHealthy);
}

TEST(PathHealth, StallWhileOutstandingMeansDown) {
  PathHealth h;
  uint64_t t = warmUp(&h, 30);
  h.onOutstanding(t, true);
  h.tick(t + 1999 * kUs);
  EXPECT_EQ(h.state(), PathState::kHealthy);
  h.tick(t + 2000 * kUs);
  EXPECT_EQ(h.state(), PathState::kDown);
  ASSERT_EQ(h.transitions().size(), 1u);
  EXPECT_EQ(h.transitions()[0].reason, "no progress for 2000 us");
  EXPECT_EQ(h.transitions()[0].atNs, t + 2000 * kUs);
  EXPECT_EQ(h.transitions()[0].from, PathState::kHealthy);
  // Further ticks record nothing more.
  h.tick(t + 9000 * kUs);
  EXPECT_EQ(h.transitions().size(), 1u);
}

TEST(PathHealth, ReasonGivesTheStallSeen) {
  PathHealth h;
  h.onOutstanding(kT0, true);
  h.tick(kT0 + 3500 * kUs);
  ASSERT_EQ(h.state(), PathState::kDown);
  EXPECT_EQ(h.transitions()[0].reason, "no progress for 3500 us");
}

TEST(PathHealth, NoStallWhileNothingIsOutstanding) {
  PathHealth h;
  uint64_t t = warmUp(&h, 30);
  h.tick(t + 1'000'000 * kUs);
  EXPECT_EQ(h.state(), PathState::kHealthy);
  // Outstanding, then cleared before the limit: the clock stops.
  h.onOutstanding(t, true);
  h.onOutstanding(t + 1500 * kUs, false);
  h.tick(t + 5000 * kUs);
  EXPECT_EQ(h.state(), PathState::kHealthy);
  // Outstanding again: the clock starts afresh at that moment, not at the
  // last progress long ago.
  h.onOutstanding(t + 10'000 * kUs, true);
  h.tick(t + 11'000 * kUs);
  EXPECT_EQ(h.state(), PathState::kHealthy);
  h.tick(t + 12'000 * kUs);
  EXPECT_EQ(h.state(), PathState::kDown);
}

TEST(PathHealth, ProgressResetsTheStallClock) {
  PathHealth h;
  uint64_t t = warmUp(&h, 30);
  h.onOutstanding(t, true);
  h.onProgress(t + 1500 * kUs);
  h.tick(t + 3000 * kUs);
  EXPECT_EQ(h.state(), PathState::kHealthy);
  h.onRtt(t + 3200 * kUs, 30 * kUs);  // a pong is progress too
  h.tick(t + 5000 * kUs);
  EXPECT_EQ(h.state(), PathState::kHealthy);
  h.onGoodput(t + 5100 * kUs, 65536, 100 * kUs);  // so are delivered bytes
  h.tick(t + 7000 * kUs);
  EXPECT_EQ(h.state(), PathState::kHealthy);
  h.tick(t + 7100 * kUs);
  EXPECT_EQ(h.state(), PathState::kDown);
}

TEST(PathHealth, ErrorIsDownAtOnceAndRecoveryNeedsGoodProbesInARow) {
  PathHealth h;
  uint64_t t = warmUp(&h, 30);
  h.onError(t, "send: Connection reset by peer");
  EXPECT_EQ(h.state(), PathState::kDown);
  ASSERT_EQ(h.transitions().size(), 1u);
  EXPECT_EQ(h.transitions()[0].reason, "send: Connection reset by peer");
  EXPECT_EQ(h.transitions()[0].atNs, t);

  // Down -> degraded: 5 probes in a row under the threshold (120 us); a bad
  // one restarts the count. Samples in the 0.75x-1x band count here.
  for (int i = 0; i < 4; ++i) h.onRtt(t += 100 * kUs, 100 * kUs);
  EXPECT_EQ(h.state(), PathState::kDown);
  h.onRtt(t += 100 * kUs, 500 * kUs);
  for (int i = 0; i < 4; ++i) h.onRtt(t += 100 * kUs, 30 * kUs);
  EXPECT_EQ(h.state(), PathState::kDown) << "the bad probe must restart the count";
  // An error in between restarts it too.
  h.onError(t, "again");
  EXPECT_EQ(h.transitions().size(), 1u);  // already down: no transition
  for (int i = 0; i < 4; ++i) h.onRtt(t += 100 * kUs, 30 * kUs);
  EXPECT_EQ(h.state(), PathState::kDown);
  h.onRtt(t += 100 * kUs, 30 * kUs);
  EXPECT_EQ(h.state(), PathState::kDegraded);
  ASSERT_EQ(h.transitions().size(), 2u);
  EXPECT_EQ(h.transitions()[1].from, PathState::kDown);
  EXPECT_EQ(h.transitions()[1].to, PathState::kDegraded);
  EXPECT_NE(h.transitions()[1].reason.find("5 probes"), std::string::npos);

  // Degraded -> healthy after the same number of further good samples.
  for (int i = 0; i < 4; ++i) h.onRtt(t += 100 * kUs, 30 * kUs);
  EXPECT_EQ(h.state(), PathState::kDegraded);
  h.onRtt(t += 100 * kUs, 30 * kUs);
  EXPECT_EQ(h.state(), PathState::kHealthy);
  EXPECT_EQ(h.transitions().size(), 3u);
}

TEST(PathHealth, ErrorOrStallFromDegraded) {
  PathHealth h;
  uint64_t t = warmUp(&h, 30);
  for (int i = 0; i < 3; ++i) h.onRtt(t += 100 * kUs, 300 * kUs);
  ASSERT_EQ(h.state(), PathState::kDegraded);
  h.onOutstanding(t, true);
  h.tick(t + 2000 * kUs);
  EXPECT_EQ(h.state(), PathState::kDown);
  EXPECT_EQ(h.transitions().back().from, PathState::kDegraded);
}

TEST(PathHealth, ProbeIntervals) {
  PathHealth h;
  EXPECT_TRUE(h.probeDue(kT0, false)) << "the first probe is due at once";
  h.onProbeSent(kT0);
  EXPECT_FALSE(h.probeDue(kT0 + 99 * kUs, true));
  EXPECT_TRUE(h.probeDue(kT0 + 100 * kUs, true));
  EXPECT_FALSE(h.probeDue(kT0 + 100 * kUs, false));
  EXPECT_FALSE(h.probeDue(kT0 + 9999 * kUs, false));
  EXPECT_TRUE(h.probeDue(kT0 + 10000 * kUs, false));
  h.onProbeSent(kT0 + 10000 * kUs);
  EXPECT_FALSE(h.probeDue(kT0 + 10050 * kUs, true));
  EXPECT_TRUE(h.probeDue(kT0 + 10100 * kUs, true));

  // A down path is probed at the busy interval even when the link is idle.
  h.onError(kT0 + 10000 * kUs, "reset");
  EXPECT_FALSE(h.probeDue(kT0 + 10099 * kUs, false));
  EXPECT_TRUE(h.probeDue(kT0 + 10100 * kUs, false));

  ProbeConfig c;
  c.intervalUs = 7;
  c.idleIntervalUs = 70;
  PathHealth custom(c);
  custom.onProbeSent(kT0);
  EXPECT_TRUE(custom.probeDue(kT0 + 7 * kUs, true));
  EXPECT_FALSE(custom.probeDue(kT0 + 69 * kUs, false));
  EXPECT_TRUE(custom.probeDue(kT0 + 70 * kUs, false));
}

TEST(PathHealth, RttEwma) {
  PathHealth h;
  h.onRtt(kT0, 100 * kUs);
  EXPECT_DOUBLE_EQ(h.rttEwmaUs(), 100.0);  // the first sample sets it
  EXPECT_DOUBLE_EQ(h.lastRttUs(), 100.0);
  h.onRtt(kT0 + kUs, 200 * kUs);
  EXPECT_DOUBLE_EQ(h.rttEwmaUs(), 125.0);
  h.onRtt(kT0 + 2 * kUs, 200 * kUs);
  EXPECT_DOUBLE_EQ(h.rttEwmaUs(), 143.75);
  EXPECT_DOUBLE_EQ(h.lastRttUs(), 200.0);
  EXPECT_EQ(h.samples(), 3u);

  ProbeConfig c;
  c.ewmaPct = 50;
  PathHealth half(c);
  half.onRtt(kT0, 100 * kUs);
  half.onRtt(kT0 + kUs, 200 * kUs);
  EXPECT_DOUBLE_EQ(half.rttEwmaUs(), 150.0);
}

TEST(PathHealth, GoodputEwma) {
  PathHealth h;
  h.onGoodput(kT0, 1'000'000, 0);  // no busy time: ignored
  EXPECT_EQ(h.goodputBps(), 0);
  h.onGoodput(kT0, 1'000'000, 1'000'000);  // 1 MB in 1 ms
  EXPECT_DOUBLE_EQ(h.goodputBps(), 1e9);
  h.onGoodput(kT0 + 1, 500'000, 1'000'000);
  EXPECT_DOUBLE_EQ(h.goodputBps(), 0.875e9);
}

TEST(PathHealth, Percentiles) {
  PathHealth h;
  std::vector<uint64_t> v;
  for (uint64_t i = 1; i <= 100; ++i) v.push_back(i);
  std::shuffle(v.begin(), v.end(), std::mt19937(42));
  uint64_t t = kT0;
  for (uint64_t us : v) h.onRtt(t += kUs, us * kUs);
  EXPECT_DOUBLE_EQ(h.rttPercentileUs(50), 50.0);
  EXPECT_DOUBLE_EQ(h.rttPercentileUs(99), 99.0);
  EXPECT_DOUBLE_EQ(h.rttPercentileUs(100), 100.0);
  EXPECT_DOUBLE_EQ(h.rttPercentileUs(0), 1.0);
  EXPECT_DOUBLE_EQ(h.rttPercentileUs(90), 90.0);
}

TEST(PathHealth, PercentilesCoverTheLastSamplesOnly) {
  PathHealth h;
  uint64_t t = kT0;
  for (int i = 0; i < 1000; ++i) h.onRtt(t += kUs, 5000 * kUs);
  for (size_t i = 0; i < PathHealth::kRttWindow; ++i) h.onRtt(t += kUs, (i % 10 + 1) * kUs);
  EXPECT_DOUBLE_EQ(h.rttPercentileUs(100), 10.0);
  EXPECT_DOUBLE_EQ(h.rttPercentileUs(0), 1.0);
  EXPECT_EQ(h.samples(), 1000u + PathHealth::kRttWindow);
}

TEST(PathHealth, CallbackAndTransitionHistory) {
  PathHealth h;
  std::vector<Transition> seen;
  h.setTransitionCallback([&seen](const Transition& t) { seen.push_back(t); });
  uint64_t t = kT0;
  for (int i = 0; i < 100; ++i) {
    h.onError(t += kUs, "error " + std::to_string(i));
    for (int k = 0; k < 10; ++k) h.onRtt(t += kUs, 10 * kUs);  // down -> degraded -> healthy
  }
  ASSERT_EQ(seen.size(), 300u);
  EXPECT_EQ(seen[0].to, PathState::kDown);
  EXPECT_EQ(seen[0].reason, "error 0");
  EXPECT_EQ(seen[1].to, PathState::kDegraded);
  EXPECT_EQ(seen[2].to, PathState::kHealthy);
  ASSERT_EQ(h.transitions().size(), PathHealth::kMaxTransitions);
  // The newest 64, oldest first, the same as the callback saw.
  for (size_t i = 0; i < PathHealth::kMaxTransitions; ++i) {
    const Transition& a = h.transitions()[i];
    const Transition& b = seen[seen.size() - PathHealth::kMaxTransitions + i];
    EXPECT_EQ(a.atNs, b.atNs);
    EXPECT_EQ(a.from, b.from);
    EXPECT_EQ(a.to, b.to);
    EXPECT_EQ(a.reason, b.reason);
  }
  EXPECT_EQ(h.transitions().back().to, PathState::kHealthy);
}

// A minimal parser for the flat objects the probe log writes: string keys,
// string or number values. Fails on anything else, such as a bad escape.
bool parseFlatJson(const std::string& s, std::map<std::string, std::string>* out) {
  size_t i = 0;
  auto str = [&](std::string* v) {
    if (i >= s.size() || s[i] != '"') return false;
    for (++i; i < s.size(); ++i) {
      char c = s[i];
      if (c == '"') {
        ++i;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        v->push_back(c);
        continue;
      }
      if (++i >= s.size()) return false;
      switch (s[i]) {
        case '"': v->push_back('"'); break;
        case '\\': v->push_back('\\'); break;
        case 'n': v->push_back('\n'); break;
        case 't': v->push_back('\t'); break;
        case 'r': v->push_back('\r'); break;
        case 'u':
          if (i + 4 >= s.size()) return false;
          v->push_back(static_cast<char>(std::stoi(s.substr(i + 1, 4), nullptr, 16)));
          i += 4;
          break;
        default: return false;
      }
    }
    return false;
  };
  if (s.empty() || s[i++] != '{') return false;
  while (true) {
    std::string key, value;
    if (!str(&key) || i >= s.size() || s[i++] != ':') return false;
    if (i < s.size() && s[i] == '"') {
      if (!str(&value)) return false;
    } else {
      size_t start = i;
      while (i < s.size() && (isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' ||
                              s[i] == '-')) {
        ++i;
      }
      if (i == start) return false;
      value = s.substr(start, i - start);
    }
    (*out)[key] = value;
    if (i >= s.size()) return false;
    if (s[i] == '}') return i + 1 == s.size();
    if (s[i++] != ',') return false;
  }
}

std::vector<std::string> readLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

class TempFile {
 public:
  explicit TempFile(const std::string& tag)
      : path_("/tmp/mrd_probe_test." + std::to_string(getpid()) + "." + tag + ".jsonl") {
    std::remove(path_.c_str());
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ProbeLog, WritesJsonLinesRateLimitedPerPath) {
  TempFile f("rate");
  PathHealth h;
  uint64_t t = warmUp(&h, 40);
  h.onGoodput(t, 812'300'000, 1'000'000'000);
  {
    ProbeLog log(f.path(), 1000);
    ASSERT_TRUE(log.isOpen()) << log.openError();
    EXPECT_TRUE(log.sample(t, 0, 2, 1, h));
    EXPECT_FALSE(log.sample(t + 999 * kUs, 0, 2, 1, h));  // within 1 ms of the last
    EXPECT_TRUE(log.sample(t + 500 * kUs, 0, 2, 0, h));   // another path
    EXPECT_TRUE(log.sample(t + 500 * kUs, 0, 3, 1, h));   // another peer
    EXPECT_TRUE(log.sample(t + 500 * kUs, 1, 2, 1, h));   // another rank sharing the file
    EXPECT_TRUE(log.sample(t + 1000 * kUs, 0, 2, 1, h));
    EXPECT_FALSE(log.sample(t + 1500 * kUs, 0, 2, 1, h));
    // State changes are written whatever the rate.
    Transition tr{t + 1500 * kUs, PathState::kHealthy, PathState::kDown, "no progress for 2000 us"};
    log.transition(t + 1500 * kUs, 0, 2, 1, tr);
    log.transition(t + 1501 * kUs, 0, 2, 1, tr);
  }
  std::vector<std::string> lines = readLines(f.path());
  ASSERT_EQ(lines.size(), 7u);
  for (const std::string& l : lines) {
    ASSERT_FALSE(l.empty());
    EXPECT_EQ(l.front(), '{');
    EXPECT_EQ(l.back(), '}');
    std::map<std::string, std::string> kv;
    EXPECT_TRUE(parseFlatJson(l, &kv)) << l;
    for (const char* key : {"t_us", "rank", "peer", "path", "event"}) {
      EXPECT_EQ(kv.count(key), 1u) << key << " missing in " << l;
    }
  }
  std::map<std::string, std::string> first;
  ASSERT_TRUE(parseFlatJson(lines[0], &first));
  EXPECT_EQ(first["t_us"], std::to_string(t / kUs));
  EXPECT_EQ(first["rank"], "0");
  EXPECT_EQ(first["peer"], "2");
  EXPECT_EQ(first["path"], "1");
  EXPECT_EQ(first["event"], "sample");
  EXPECT_EQ(first["state"], "healthy");
  EXPECT_EQ(first["rtt_us"], "40.0");
  EXPECT_EQ(first["rtt_ewma_us"], "40.0");
  EXPECT_EQ(first["base_rtt_us"], "40.0");
  EXPECT_EQ(first["samples"], "10");
  EXPECT_EQ(first["goodput_MBps"], "812.3");
  std::map<std::string, std::string> state;
  ASSERT_TRUE(parseFlatJson(lines[5], &state));
  EXPECT_EQ(state["event"], "state");
  EXPECT_EQ(state["from"], "healthy");
  EXPECT_EQ(state["to"], "down");
  EXPECT_EQ(state["reason"], "no progress for 2000 us");
  EXPECT_EQ(state["t_us"], std::to_string(t / kUs + 1500));
}

// With the path's traffic, a sample line says what the path was handed, and
// each channel's link to a peer has its own rate limit: their paths are
// numbered alike, and one limit would drop one channel's lines whenever
// the other's came first.
TEST(ProbeLog, SampleLinesCarryTrafficRateLimitedPerChannel) {
  TempFile f("traffic");
  PathHealth h;
  uint64_t t = warmUp(&h, 40);
  const PathTraffic ch0{0, 1, 73'400'320, 262'144};
  const PathTraffic ch1{1, 1, 65'536, 0};
  {
    ProbeLog log(f.path(), 1000);
    ASSERT_TRUE(log.isOpen()) << log.openError();
    EXPECT_TRUE(log.sample(t, 0, 2, 1, h, &ch0));
    EXPECT_TRUE(log.sample(t + 100 * kUs, 0, 2, 1, h, &ch1));   // same path, another channel
    EXPECT_FALSE(log.sample(t + 200 * kUs, 0, 2, 1, h, &ch0));  // within 1 ms of channel 0's
    EXPECT_FALSE(log.sample(t + 300 * kUs, 0, 2, 1, h, &ch1));  // and of channel 1's
    EXPECT_TRUE(log.sample(t + 1100 * kUs, 0, 2, 1, h, &ch1));
    EXPECT_TRUE(log.sample(t + 1200 * kUs, 0, 2, 0, h));        // no traffic: as before
  }
  std::vector<std::string> lines = readLines(f.path());
  ASSERT_EQ(lines.size(), 4u);
  std::map<std::string, std::string> first, second, plain;
  ASSERT_TRUE(parseFlatJson(lines[0], &first)) << lines[0];
  ASSERT_TRUE(parseFlatJson(lines[1], &second)) << lines[1];
  ASSERT_TRUE(parseFlatJson(lines[3], &plain)) << lines[3];
  EXPECT_EQ(first["event"], "sample");
  EXPECT_EQ(first["path"], "1");
  EXPECT_EQ(first["goodput_MBps"], "0.0");  // the health fields are still there
  EXPECT_EQ(first["channel"], "0");
  EXPECT_EQ(first["rail"], "1");
  EXPECT_EQ(first["sent_bytes"], "73400320");
  EXPECT_EQ(first["queued_bytes"], "262144");
  EXPECT_EQ(second["channel"], "1");
  EXPECT_EQ(second["sent_bytes"], "65536");
  EXPECT_EQ(second["queued_bytes"], "0");
  EXPECT_EQ(second["t_us"], std::to_string(t / kUs + 100));
  EXPECT_EQ(plain["state"], "healthy");
  for (const char* key : {"channel", "rail", "sent_bytes", "queued_bytes"}) {
    EXPECT_EQ(plain.count(key), 0u) << key << " in " << lines[3];
  }
}

TEST(ProbeLog, EscapesStrings) {
  TempFile f("escape");
  std::string reason = "send: \"reset\"\\ at\nline\ttwo\x01";
  {
    ProbeLog log(f.path(), 1000);
    ASSERT_TRUE(log.isOpen());
    log.transition(kT0, 0, 1, 0, {kT0, PathState::kDegraded, PathState::kDown, reason});
  }
  std::vector<std::string> lines = readLines(f.path());
  ASSERT_EQ(lines.size(), 1u);
  std::map<std::string, std::string> kv;
  ASSERT_TRUE(parseFlatJson(lines[0], &kv)) << lines[0];
  EXPECT_EQ(kv["reason"], reason);
  EXPECT_EQ(kv["from"], "degraded");
}

TEST(ProbeLog, ForProcessSharesAFileAndExpandsTheRank) {
  TempFile f0("share.0");
  TempFile f1("share.1");
  std::string pattern = "/tmp/mrd_probe_test." + std::to_string(getpid()) + ".share.%r.jsonl";
  EXPECT_EQ(ProbeLog::expandPattern(pattern, 1), f1.path());
  EXPECT_EQ(ProbeLog::expandPattern("/tmp/x.%p.jsonl", 0),
            "/tmp/x." + std::to_string(getpid()) + ".jsonl");
  auto a = ProbeLog::forProcess(pattern, 0, 1000);
  auto b = ProbeLog::forProcess(pattern, 0, 1000);
  auto c = ProbeLog::forProcess(pattern, 1, 1000);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(a.get(), b.get());
  EXPECT_NE(a.get(), c.get());
  EXPECT_EQ(a->path(), f0.path());
  // Shared: the rate limit is shared too.
  PathHealth h;
  EXPECT_TRUE(a->sample(kT0, 0, 1, 0, h));
  EXPECT_FALSE(b->sample(kT0 + kUs, 0, 1, 0, h));
  EXPECT_TRUE(c->sample(kT0 + kUs, 1, 0, 0, h));

  EXPECT_EQ(ProbeLog::forProcess("", 0, 1000), nullptr);
}

TEST(ProbeLog, UnopenableFileMeansNoLog) {
  EXPECT_EQ(ProbeLog::forProcess("/nonexistent-dir/probe.%r.jsonl", 0, 1000), nullptr);
  ProbeLog log("/nonexistent-dir/probe.jsonl", 1000);
  EXPECT_FALSE(log.isOpen());
  EXPECT_NE(log.openError().find("/nonexistent-dir/probe.jsonl"), std::string::npos);
  PathHealth h;
  EXPECT_FALSE(log.sample(kT0, 0, 1, 0, h));
  log.transition(kT0, 0, 1, 0, Transition{});  // ignored, no crash
}

// A connected loopback TCP pair.
struct TcpPair {
  int client = -1;
  int server = -1;
  ~TcpPair() {
    if (client >= 0) close(client);
    if (server >= 0) close(server);
  }
};

void connectLoopback(TcpPair* p) {
  int lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(lst, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lst, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(lst, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(lst, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  p->client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(p->client, 0);
  ASSERT_EQ(connect(p->client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  p->server = accept(lst, nullptr, nullptr);
  close(lst);
  ASSERT_GE(p->server, 0);
}

void exchange(int from, int to, size_t bytes) {
  std::vector<char> buf(bytes, 'x');
  size_t done = 0;
  while (done < bytes) {
    ssize_t n = send(from, buf.data() + done, bytes - done, MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    done += static_cast<size_t>(n);
  }
  for (done = 0; done < bytes;) {
    ssize_t n = recv(to, buf.data(), bytes - done, 0);
    ASSERT_GT(n, 0);
    done += static_cast<size_t>(n);
  }
}

TEST(TcpInfo, LoopbackConnectionHasStats) {
  TcpPair p;
  ASSERT_NO_FATAL_FAILURE(connectLoopback(&p));
  for (int i = 0; i < 20; ++i) {
    ASSERT_NO_FATAL_FAILURE(exchange(p.client, p.server, 4096));
    ASSERT_NO_FATAL_FAILURE(exchange(p.server, p.client, 64));
  }
  TcpStats s;
  Status st = readTcpStats(p.client, &s);
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_TRUE(s.valid);
  EXPECT_GT(s.rttUs, 0);
  EXPECT_LT(s.rttUs, 1e6);
  EXPECT_EQ(s.retransmits, 0u);
  TcpStats again;
  ASSERT_TRUE(readTcpStats(p.client, &again).isOk());
  EXPECT_FALSE(tcpStatsSuggestLoss(s, again));
}

TEST(TcpInfo, NonSocketIsAClearError) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  TcpStats s;
  s.valid = true;
  Status st = readTcpStats(fds[0], &s);
  close(fds[0]);
  close(fds[1]);
  EXPECT_FALSE(st.isOk());
  EXPECT_EQ(st.code(), mrdSystemError);
  EXPECT_NE(st.message().find("TCP_INFO"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("fd " + std::to_string(fds[0])), std::string::npos) << st.message();
  EXPECT_FALSE(s.valid);
  EXPECT_FALSE(readTcpStats(0, nullptr).isOk());
}

TEST(TcpInfo, LossIsRetransmissionsGrowing) {
  TcpStats a, b;
  a.valid = b.valid = true;
  a.totalRetrans = b.totalRetrans = 3;
  EXPECT_FALSE(tcpStatsSuggestLoss(a, b));
  b.totalRetrans = 4;
  EXPECT_TRUE(tcpStatsSuggestLoss(a, b));
  b.totalRetrans = 3;
  b.lost = 1;
  EXPECT_TRUE(tcpStatsSuggestLoss(a, b));
  b.lost = 0;
  b.retransmits = 1;
  EXPECT_TRUE(tcpStatsSuggestLoss(a, b));
  b.valid = false;  // a failed reading proves nothing
  EXPECT_FALSE(tcpStatsSuggestLoss(a, b));
}

}  // namespace
}  // namespace mrd::probe
