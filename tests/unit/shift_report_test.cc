// link_fault_perf --shift-log (benchmarks/link_fault/shift_report.h): the
// probe log's sample lines read back, and the traffic shift found in
// synthetic samples whose answer is known; and the fault tool's lines as
// link_fault_perf reads them, and its reaction lines (path_report.h).
#include "link_fault/shift_report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "link_fault/path_report.h"
#include "probe/path_health.h"
#include "probe/probe_log.h"

namespace mrdlinkfault {
namespace {

constexpr uint64_t kFaultUs = 10'000'000;  // synthetic CLOCK_MONOTONIC of the fault
constexpr uint64_t kBytesPerUs = 250;      // per path while a rail is used: 2 Gbit/s

// Samples of rank 0's links to peer 1, two channels and two rails (path i
// on rail i), every 200 us per path from 200 ms before the fault to 300 ms
// after, channel 1's offset by 100 us from channel 0's (so the windows
// start on one path's samples and fall between the other's). Each path is
// handed `rate(rail, t)` bytes in the microsecond from t.
template <typename Rate>
std::vector<TrafficSample> TwoRails(Rate rate) {
  std::vector<TrafficSample> out;
  const uint64_t begin = kFaultUs - 200'000, end = kFaultUs + 300'000;
  for (int channel = 0; channel < 2; ++channel) {
    for (int rail = 0; rail < 2; ++rail) {
      uint64_t sent = 0;
      uint64_t t = begin;
      for (uint64_t next = begin + 100 * channel; next <= end; next += 200) {
        for (; t < next; ++t) sent += rate(rail, t);
        out.push_back({next, 0, 1, channel, rail, rail, sent});
      }
    }
  }
  return out;
}

// Rail 0 always at kBytesPerUs, rail 1 while `on(t)`.
template <typename RailOn>
std::vector<TrafficSample> Rail1When(RailOn on) {
  return TwoRails([on](int rail, uint64_t t) { return rail == 0 || on(t) ? kBytesPerUs : 0; });
}

// A fault line as rail_fault.sh prints it (after "rail_fault <stamp>: "):
// its first qdisc changed at +1 ms, the last at +1.6 ms.
FaultEvent RateCut(uint64_t at_us) {
  return {at_us, "rate rail 1 hosts 0,1 100mbit (tbf burst 16384b latency 50ms, both directions) "
                 "(applied in 900 us, in effect after 1000 us, whole after 1600 us)"};
}

TEST(ShiftReport, RailThatStopsIsShiftedWhenItStops) {
  // Rail 1 handed nothing from 3 ms after the fault.
  const TrafficHistory history(Rail1When([](uint64_t t) { return t < kFaultUs + 3000; }));
  const TrafficShift shift = FindTrafficShift(history, 1, false, kFaultUs, kFaultUs + kShiftSearchUs);
  ASSERT_TRUE(shift.found);
  // The window looks 10 ms ahead and lets 10% of it be on the rail: at an
  // even split, up to 1.1 ms of the rail's traffic before the stop. Of the
  // sample times (every 100 us over both channels), 2.0 ms is the first
  // whose window holds no more (1.9 ms: 10.3%), and 2.1 ms the first
  // sample in it.
  EXPECT_EQ(shift.at_us - kFaultUs, 2100u);
  EXPECT_NEAR(shift.share_before, 0.5, 0.01);
  EXPECT_NEAR(shift.share_after, 0.0104, 0.001);  // 1 ms of its half in 100 ms

  const std::vector<std::string> lines = ShiftLines(history, {RateCut(kFaultUs)});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], RateCut(kFaultUs).what +
                          ": rail 1 handed <=10% of the bytes from +2.1 ms after the fault began, 1.1 ms "
                          "after it took effect, 0.5 ms after it was whole (over 10 ms and 100 ms; share in "
                          "the 100 ms before: 50%, from then: 1%; its last bytes at +3.1 ms, 2.1 ms after it "
                          "took effect, 1.5 ms after it was whole; first bytes handed once it was whole at "
                          "+1.7 ms, the shift 0.4 ms after them)");
  // (Channel 1's sample at 3.1 ms counts the rail's bytes of 2.9-3 ms.)
  EXPECT_EQ(shift.rail_last_us, kFaultUs + 3100);
}

TEST(ShiftReport, RailThatNeverStopsIsNoShift) {
  const TrafficHistory history(Rail1When([](uint64_t) { return true; }));
  EXPECT_FALSE(FindTrafficShift(history, 1, false, kFaultUs, kFaultUs + kShiftSearchUs).found);
  // The next event ends the search; with none, the samples do (the last
  // window must end by the last sample).
  const std::vector<std::string> lines =
      ShiftLines(history, {RateCut(kFaultUs), {kFaultUs + 250'000, "clear rail all"}});
  ASSERT_EQ(lines.size(), 1u);  // "rail all" names no one rail
  EXPECT_EQ(lines[0], RateCut(kFaultUs).what +
                          ": rail 1: no shift within 250 ms (share in the 100 ms before: 50%, after it "
                          "began: 50%)");
}

// Chunks are handed in bursts as the paths' queues drain; one burst that
// goes to the other rail is no shift when the rail gets its share again.
TEST(ShiftReport, ShiftMustHold) {
  // Rail 1 handed nothing for 12 ms after the fault, then its half again
  // until 40 ms, then nothing.
  const TrafficHistory history(Rail1When(
      [](uint64_t t) { return t < kFaultUs || (t >= kFaultUs + 12'000 && t < kFaultUs + 40'000); }));
  // The first 10 ms alone would say +0 ms.
  uint64_t rail_bytes = 0, all_bytes = 0;
  history.Handed(1, kFaultUs, kFaultUs + kShiftWindowUs, &rail_bytes, &all_bytes);
  EXPECT_GE(all_bytes, kShiftMinBytes);
  EXPECT_LE(static_cast<double>(rail_bytes), kShiftShare * static_cast<double>(all_bytes));
  const TrafficShift shift = FindTrafficShift(history, 1, false, kFaultUs, kFaultUs + kShiftSearchUs);
  ASSERT_TRUE(shift.found);
  EXPECT_EQ(shift.at_us - kFaultUs, 39'100u);  // as for a stop at 40 ms
  EXPECT_LE(shift.share_after, kShiftShare);
}

// Nothing handed for a while after the fault (the rank busy elsewhere):
// the traffic is seen to move with the first bytes handed after it.
TEST(ShiftReport, ShiftIsWhenTheTrafficIsSeenToMove) {
  const TrafficHistory history(TwoRails([](int rail, uint64_t t) -> uint64_t {
    if (t < kFaultUs - 1000) return kBytesPerUs;  // then 1 ms of nothing before it
    return rail == 0 && t >= kFaultUs + 6000 ? kBytesPerUs : 0;
  }));
  const TrafficShift shift = FindTrafficShift(history, 1, false, kFaultUs, kFaultUs + kShiftSearchUs);
  ASSERT_TRUE(shift.found);
  // Channel 1's sample at 6.1 ms is the first to count bytes handed from 6 ms.
  EXPECT_EQ(shift.at_us - kFaultUs, 6100u);
  EXPECT_EQ(history.FirstHanded(kFaultUs, kFaultUs + kShiftWindowUs), kFaultUs + 6100);
  EXPECT_EQ(history.FirstHanded(kFaultUs, kFaultUs + 6000), 0u);
  // The rail had its last bytes before the fault: the traffic left it
  // somewhere in the quiet stretch, which the line says, and that the
  // rank handed nothing until the shift.
  EXPECT_EQ(shift.rail_last_us, 0u);
  EXPECT_EQ(history.LastHanded(1, kFaultUs - 2000, kFaultUs), kFaultUs - 900);
  const std::vector<std::string> lines = ShiftLines(history, {RateCut(kFaultUs)});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("; no bytes on it from the fault on; first bytes handed once it was whole at +6.1 ms, "
                          "the shift 0.0 ms after them)"),
            std::string::npos)
      << lines[0];
}

TEST(ShiftReport, RepairIsWhenTheRailIsHandedItsShareAgain) {
  // Dead until the repair, used again from 4 ms after it.
  const TrafficHistory history(Rail1When([](uint64_t t) { return t >= kFaultUs + 4000; }));
  const TrafficShift shift = FindTrafficShift(history, 1, true, kFaultUs, kFaultUs + kShiftSearchUs);
  ASSERT_TRUE(shift.found);
  // The window looks back 10 ms and needs 10% of it on the rail: 1.1 ms of
  // its traffic after its return (5.1 ms falls just short: 9.5%).
  EXPECT_EQ(shift.at_us - kFaultUs, 5200u);
  EXPECT_EQ(shift.share_before, 0.0);
  EXPECT_NEAR(shift.share_after, 0.5, 0.01);
  const std::vector<std::string> lines =
      ShiftLines(history, {{kFaultUs, "up rail 1 hosts 0,1 (applied in 700 us, in effect after 200 us)"}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "up rail 1 hosts 0,1 (applied in 700 us, in effect after 200 us): rail 1 handed >=10% of the "
            "bytes again by +5.2 ms after the repair began, 5.0 ms after it took effect (over the 10 ms "
            "before and the 100 ms after; share in the 100 ms before: 0%, from then: 50%)");
  // Both links reported up: when it was whole too.
  EXPECT_NE(ShiftLines(history, {{kFaultUs, "up rail 1 hosts 0,1 (applied in 700 us, in effect after 200 us, "
                                            "whole after 700 us)"}})[0]
                .find("+5.2 ms after the repair began, 5.0 ms after it took effect, 4.5 ms after it was "
                      "whole (over"),
            std::string::npos);
  // A rail that never comes back.
  const TrafficHistory dead(Rail1When([](uint64_t t) { return t < kFaultUs - 50'000; }));
  EXPECT_FALSE(FindTrafficShift(dead, 1, true, kFaultUs, kFaultUs + kShiftSearchUs).found);
  EXPECT_NE(ShiftLines(dead, {{kFaultUs, "up rail 1 hosts 0,1"}})[0].find(
                ": rail 1: not handed >=10% of the bytes again within 300 ms"),
            std::string::npos);
}

TEST(ShiftReport, WindowsWithTooLittleTrafficDoNotCount) {
  // Nothing handed at all from the fault to +30 ms (between operations),
  // then both rails their half again: no shift.
  const TrafficHistory idle(TwoRails([](int, uint64_t t) {
    return t >= kFaultUs && t < kFaultUs + 30'000 ? 0 : kBytesPerUs;
  }));
  uint64_t rail_bytes = 1, all_bytes = 1;
  idle.Handed(1, kFaultUs + 5000, kFaultUs + 15'000, &rail_bytes, &all_bytes);
  EXPECT_EQ(all_bytes, 0u);
  EXPECT_FALSE(FindTrafficShift(idle, 1, false, kFaultUs, kFaultUs + kShiftSearchUs).found);
  // A trickle from the fault on, all on rail 0 but too little to say how
  // the traffic is split (400 KiB in 100 ms): no shift either.
  const TrafficHistory trickle(TwoRails([](int rail, uint64_t t) -> uint64_t {
    if (t < kFaultUs) return kBytesPerUs;
    return rail == 0 ? 2 : 0;
  }));
  EXPECT_FALSE(FindTrafficShift(trickle, 1, false, kFaultUs, kFaultUs + kShiftSearchUs).found);
}

// Which events are timed, and against what.
TEST(ShiftReport, FaultEventsNameTheirRail) {
  int rail = -1;
  EXPECT_TRUE(RateCut(0).OneRail(&rail));
  EXPECT_EQ(rail, 1);
  EXPECT_DOUBLE_EQ(RateCut(0).EffectUs(), 1000);
  EXPECT_DOUBLE_EQ(RateCut(0).WholeUs(), 1600);
  EXPECT_FALSE(RateCut(0).IsRepair());
  // An expected change never reported: no "whole after".
  EXPECT_EQ((FaultEvent{0, "up rail all hosts 0,1 (applied in 900 us, in effect after 300 us)"}.WholeUs()), -1);
  EXPECT_FALSE((FaultEvent{0, "rate rail all hosts 0,1 300mbit"}.OneRail(&rail)));
  EXPECT_FALSE((FaultEvent{0, "cut hosts 0,1 (applied in 5 us)"}.OneRail(&rail)));
  EXPECT_EQ((FaultEvent{0, "cut hosts 0,1"}.EffectUs()), -1);
  EXPECT_TRUE((FaultEvent{0, "up rail 0 hosts 0,1"}.IsRepair()));
  EXPECT_TRUE((FaultEvent{0, "flap rail 1 done: 50 times; up"}.IsRepair()));
}

// The summary's reaction lines: the first state change on the fault's rail
// the fault's way, timed from its start, from when it took effect and from
// when it was whole, when its line says.
TEST(ShiftReport, ReactionsAreTimedFromTheFaultsEvents) {
  const std::set<StateChange> changes = {
      // Another rail's passing change, and a change back to healthy: no
      // reaction to a fault on rail 1.
      {kFaultUs + 1500, 1, 0, 0, mrdPathHealthy, mrdPathDegraded},
      {kFaultUs + 2000, 1, 1, 1, mrdPathDegraded, mrdPathHealthy},
      {kFaultUs + 4200, 1, 0, 1, mrdPathHealthy, mrdPathDown},
      {kFaultUs + 500'000 + 7000, 1, 0, 1, mrdPathDown, mrdPathHealthy},
  };
  const std::vector<std::string> lines =
      ReactionLines(changes, {RateCut(kFaultUs),
                              {kFaultUs + 500'000, "up rail 1 hosts 0,1 (applied in 800 us, in effect after 300 us)"},
                              {kFaultUs + 900'000, "loss rail 1 hosts 0,1 5%"}});
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], RateCut(kFaultUs).what +
                          ": first reaction 4.2 ms after it began, 3.2 ms after it took effect, 2.6 ms after it "
                          "was whole (peer 1 channel 0 rail 1 healthy -> down; the fault took 0.9 ms to apply)");
  // Not whole: an expected event never came.
  EXPECT_EQ(lines[1],
            "up rail 1 hosts 0,1 (applied in 800 us, in effect after 300 us): first reaction 7.0 ms after it "
            "began, 6.7 ms after it took effect (peer 1 channel 0 rail 1 down -> healthy; the fault took 0.8 ms "
            "to apply)");
  EXPECT_EQ(lines[2], "loss rail 1 hosts 0,1 5%: no path state change towards down before the next event");
}

TEST(ShiftReport, ParsesTheProbeLogsSampleLines) {
  const std::string line =
      "{\"t_us\":123456,\"rank\":0,\"peer\":2,\"path\":1,\"event\":\"sample\",\"state\":\"healthy\","
      "\"rtt_us\":41.2,\"goodput_MBps\":812.3,\"channel\":3,\"rail\":1,\"sent_bytes\":73400320,"
      "\"queued_bytes\":262144}";
  TrafficSample s;
  ASSERT_TRUE(ParseTrafficSample(line, &s));
  EXPECT_EQ(s.t_us, 123456u);
  EXPECT_EQ(s.rank, 0);
  EXPECT_EQ(s.peer, 2);
  EXPECT_EQ(s.path, 1);
  EXPECT_EQ(s.channel, 3);
  EXPECT_EQ(s.rail, 1);
  EXPECT_EQ(s.sent_bytes, 73400320u);
  // A sample line without the traffic fields, a state line, garbage.
  EXPECT_FALSE(ParseTrafficSample(
      "{\"t_us\":1,\"rank\":0,\"peer\":2,\"path\":1,\"event\":\"sample\",\"state\":\"healthy\"}", &s));
  EXPECT_FALSE(ParseTrafficSample(
      "{\"t_us\":1,\"rank\":0,\"peer\":2,\"path\":1,\"event\":\"state\",\"from\":\"healthy\","
      "\"to\":\"down\",\"reason\":\"\\\"channel\\\":1,\\\"rail\\\":1,\\\"sent_bytes\\\":5\"}",
      &s));
  EXPECT_FALSE(ParseTrafficSample("not json", &s));
  EXPECT_FALSE(ParseTrafficSample("", &s));
}

// What the library writes, the benchmark reads: lines from ProbeLog itself,
// filtered by rank and time.
TEST(ShiftReport, ReadsWhatTheProbeLogWrites) {
  const std::string path = "/tmp/mrd_shift_report_test." + std::to_string(getpid()) + ".jsonl";
  std::remove(path.c_str());
  {
    mrd::probe::ProbeLog log(path, 0);
    ASSERT_TRUE(log.isOpen()) << log.openError();
    mrd::probe::PathHealth h;
    const mrd::probe::PathTraffic early{0, 1, 100, 0}, ch0{0, 1, 65536, 65536}, ch1{1, 0, 131072, 0};
    log.sample(1'000'000'000, 0, 1, 1, h, &early);  // before the run: left out
    log.sample(2'000'000'000, 0, 1, 1, h, &ch0);
    log.sample(2'000'100'000, 0, 1, 0, h, &ch1);
    log.sample(2'000'200'000, 1, 0, 0, h, &ch1);  // another rank sharing the file: left out
    log.sample(2'000'300'000, 0, 1, 0, h);         // no traffic fields: left out
    log.transition(2'000'400'000, 0, 1, 1, {2'000'400'000, mrd::probe::PathState::kHealthy,
                                             mrd::probe::PathState::kDown, "no progress"});
  }
  std::vector<TrafficSample> samples;
  std::string error;
  ASSERT_TRUE(ReadTrafficSamples(path, 0, 1'500'000, &samples, &error)) << error;
  std::remove(path.c_str());
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].t_us, 2'000'000u);
  EXPECT_EQ(samples[0].channel, 0);
  EXPECT_EQ(samples[0].path, 1);
  EXPECT_EQ(samples[0].rail, 1);
  EXPECT_EQ(samples[0].sent_bytes, 65536u);
  EXPECT_EQ(samples[1].channel, 1);
  EXPECT_EQ(samples[1].rail, 0);
  EXPECT_EQ(samples[1].sent_bytes, 131072u);

  EXPECT_FALSE(ReadTrafficSamples("/nonexistent-dir/probe.0", 0, 0, &samples, &error));
  EXPECT_NE(error.find("/nonexistent-dir/probe.0"), std::string::npos);
}

}  // namespace
}  // namespace mrdlinkfault
