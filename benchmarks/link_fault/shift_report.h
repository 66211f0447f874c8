// link_fault_perf --shift-log: when the scheduler moved traffic off a
// faulted rail, read from rank 0's probe log (MRD_PROBE_LOG). Its sample
// lines carry each path's cumulative "sent_bytes" (the bytes of data
// frames handed to it); summed per rail over every peer and channel, their
// differences say what share of the traffic each rail was handed when.
// A path's state says when the library judged it; this says when the
// traffic actually moved, which the scheduler often does without any
// state change (a slowed path's credited rate decays on its own).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "link_fault/fault_hook.h"

namespace mrdlinkfault {

// One sample line of a probe log that has the path's traffic fields.
struct TrafficSample {
  uint64_t t_us = 0;  // CLOCK_MONOTONIC, as FaultEvent::mono_us
  int rank = 0, peer = 0, channel = 0, path = 0, rail = 0;
  uint64_t sent_bytes = 0;  // cumulative
};

// Parses one line of a probe log; false unless it is a sample line with the
// traffic fields (the lines are flat JSON objects of numbers and strings).
bool ParseTrafficSample(const std::string& line, TrafficSample* out);

// Appends the sample lines of `rank` at or after `since_us` in the probe
// log at `path` (a log opened for appending keeps earlier runs' lines; their
// times are earlier). False, with a message in *error, if it cannot be read.
bool ReadTrafficSamples(const std::string& path, int rank, uint64_t since_us,
                        std::vector<TrafficSample>* out, std::string* error);

// The bytes each rail was handed, over time, from every path's samples.
class TrafficHistory {
 public:
  explicit TrafficHistory(const std::vector<TrafficSample>& samples);

  // Bytes handed in (from_us, to_us] to `rail` and to every rail, all peers
  // and channels: those first counted by a sample in that span. A link
  // hands out chunks and logs its samples in the same progress calls, and
  // logs one whenever it runs 200 us after the last (--shift-log), so a
  // sample counts its bytes within 200 us of their handing, or at once
  // after a gap without progress calls (the rank busy elsewhere, several ms
  // at times) in which nothing was handed. Spreading a sample's bytes
  // evenly since the one before would put them in such a gap.
  void Handed(int rail, uint64_t from_us, uint64_t to_us, uint64_t* rail_bytes,
              uint64_t* all_bytes) const;
  // The first sample time in (from_us, to_us] that shows bytes handed to
  // any path; 0 when none does.
  uint64_t FirstHanded(uint64_t from_us, uint64_t to_us) const;
  // The last sample time in (from_us, to_us] that shows bytes handed to a
  // path on `rail`; 0 when none does.
  uint64_t LastHanded(int rail, uint64_t from_us, uint64_t to_us) const;
  // Every sample time, ascending, once each.
  const std::vector<uint64_t>& times() const { return times_; }

 private:
  // Per path (peer, channel, path): its samples' (time, sent_bytes) in
  // time order, and its rail.
  struct Series {
    int rail = 0;
    std::vector<std::pair<uint64_t, uint64_t>> points;
  };
  // sent_bytes as of t_us: its last sample's at or before then.
  static uint64_t SentAt(const Series& s, uint64_t t_us);

  std::map<std::tuple<int, int, int>, Series> series_;
  std::vector<uint64_t> times_;
};

// How a shift is judged: the faulted rail was handed at most kShiftShare
// of the bytes in kShiftWindowUs (after a repair: at least that share
// again), and over the kShiftHoldUs from then. Before a rate cut or a dead
// rail, with two rails, it carries about half. Windows, not single
// samples: bytes are handed a 64 KiB chunk at a time, and a rail cut to a
// trickle still gets one now and then. The hold, because chunks are handed
// in bursts as queues drain: a burst that happens to go to the other rail
// is no shift when the next one, 2 ms later, puts a megabyte on this one.
// A window in which less than kShiftMinBytes were handed (16 chunks: one on
// the rail is then under the share) says nothing and does not count.
constexpr double kShiftShare = 0.10;
constexpr uint64_t kShiftWindowUs = 10'000;
constexpr uint64_t kShiftHoldUs = 100'000;
constexpr uint64_t kShiftMinBytes = 1u << 20;
// How far after an event a shift is looked for (or until the next event).
constexpr uint64_t kShiftSearchUs = 2'000'000;

struct TrafficShift {
  bool found = false;
  uint64_t at_us = 0;  // when (below)
  // The rail's share of the bytes handed in the kShiftHoldUs before the
  // event and after the shift (after the event when not found); -1: none
  // handed.
  double share_before = -1, share_after = -1;
  // A fault's shift: the last sample from the fault on, up to the end of
  // the shift's window, that shows bytes handed to the rail (0: none).
  // The traffic stopped going there between this and at_us at the latest
  // (when bytes are handed in bursts, at_us is the first burst after).
  uint64_t rail_last_us = 0;
};

// After a fault: the first sample time t in [from_us, until_us) such that
// `rail` was handed at most kShiftShare of the bytes handed to every rail
// in the window (t, t + kShiftWindowUs] and in (t, t + kShiftHoldUs]; the
// shift is the first sample in that window to show bytes handed: the
// traffic had moved by then. (Not t itself: when nothing was handed for a
// while after the fault, the rank busy elsewhere, the window's start says
// nothing of where the traffic went.) The window looks ahead, so this can
// lead a clean stop by the time the rail takes to be handed that share of
// it: 1.1 ms at most when it carried half.
// After a repair (`repair`): the first such t at which the rail was handed
// at least kShiftShare in (t - kShiftWindowUs, t], a window looking back
// (ahead, any window that reached the rail's return would count; back, t
// lags it by as much as a fault's t leads), and in (t, t + kShiftHoldUs].
// A window must end by the last sample, and hold kShiftMinBytes.
TrafficShift FindTrafficShift(const TrafficHistory& history, int rail, bool repair, uint64_t from_us,
                              uint64_t until_us);

// One line per event that names one rail, e.g. "rate rail 1 ...: rail 1
// handed <=10% of the bytes from +2.9 ms after the fault began, 1.2 ms
// after it took effect, 0.4 ms after it was whole (over 10 ms and 100 ms;
// share in the 100 ms before: 48%, from then: 3%; its last bytes at ...)"
// ("after it took effect", "after it was whole": when the event's line
// says when the kernel made the change, and all of it).
std::vector<std::string> ShiftLines(const TrafficHistory& history,
                                    const std::vector<FaultEvent>& events);

}  // namespace mrdlinkfault
