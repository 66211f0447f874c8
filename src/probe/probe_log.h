// The probe log (MRD_PROBE_LOG): JSON lines, one per RTT/goodput sample of a
// path (at most one per path per MRD_PROBE_LOG_INTERVAL_US) and one per state
// change, for plotting a link's behaviour after the fact:
//
//   {"t_us":123456,"rank":0,"peer":2,"path":1,"event":"sample","state":"healthy",
//    "rtt_us":41.2,"rtt_ewma_us":40.1,"base_rtt_us":38.0,"samples":812,"net_rtt_ewma_us":39.0,
//    "goodput_MBps":812.3,"capacity_MBps":1020.5,
//    "channel":0,"rail":1,"sent_bytes":73400320,"queued_bytes":262144}
// (rtt: the probe's whole round trip; net_rtt: without the queueing the link
// accounts for, the figure judged; goodput: EWMA; capacity: best recent;
// the last four, when the caller passes the path's traffic: its link's
// channel, its rail, the bytes of data frames handed to it so far, re-sends
// included, and of those the bytes not yet acknowledged. Successive
// sent_bytes of a path show when the scheduler moved traffic off it, which
// its state alone does not.)
//   {"t_us":123460,"rank":0,"peer":2,"path":1,"event":"state","from":"healthy",
//    "to":"down","reason":"no progress for 2000 us"}
//
// Times are CLOCK_MONOTONIC microseconds, as passed in. Thread-safe: every
// method may be called from any thread (one mutex); each line is one write()
// to a file opened for appending, so several processes may share a file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "probe/path_health.h"

namespace mrd::probe {

// What a path was handed, for a sample line (ProbeLog::sample).
struct PathTraffic {
  int channel = 0;           // the link's channel
  int rail = 0;              // the path's rail (index of the local NIC)
  uint64_t bytesSent = 0;    // data frames handed to the path, re-sends included
  uint64_t queuedBytes = 0;  // of those, written and not yet acknowledged
};

class ProbeLog {
 public:
  // Opens `path` as given (no expansion) for appending, line-buffered.
  // Check isOpen(); a log that failed to open ignores every call.
  ProbeLog(const std::string& path, uint64_t sampleIntervalUs);
  ~ProbeLog();
  ProbeLog(const ProbeLog&) = delete;
  ProbeLog& operator=(const ProbeLog&) = delete;

  // The file name for `pattern`: %r is the rank, %h the host, %p the pid.
  static std::string expandPattern(const std::string& pattern, int rank);

  // The process's log for `pattern` and `rank`: ranks whose pattern expands
  // to the same file share one ProbeLog (and its rate limits); it stays open
  // while anyone holds it. nullptr for an empty pattern, or when the file
  // cannot be opened (then one WARN per file name, and the caller goes on
  // without a log). The first caller's interval wins for a shared file.
  static std::shared_ptr<ProbeLog> forProcess(const std::string& pattern, int rank,
                                              uint64_t sampleIntervalUs);

  bool isOpen() const { return file_ != nullptr; }
  const std::string& path() const { return path_; }
  // errno text of a failed open; empty when open.
  const std::string& openError() const { return openError_; }

  // One sample line for (rank, peer, channel, path) unless one was written
  // less than the sample interval ago; with `traffic`, the line has its
  // fields (the channel is 0 without it). Returns whether a line was written.
  // (The channel is part of the key: every channel has its own link to the
  // peer, with paths numbered alike, and one limit for them all would let
  // one channel's lines crowd out another's.)
  bool sample(uint64_t nowNs, int rank, int peer, int path, const PathHealth& health,
              const PathTraffic* traffic = nullptr);
  // One state-change line, always.
  void transition(uint64_t nowNs, int rank, int peer, int path, const Transition& t);

 private:
  void writeLine(const std::string& line);

  std::string path_;
  std::string openError_;
  uint64_t intervalNs_;
  std::mutex mu_;
  FILE* file_ = nullptr;
  // (rank, peer, channel, path) -> its last sample line; guarded by mu_
  std::map<std::tuple<int, int, int, int>, uint64_t> lastSampleNs_;
};

}  // namespace mrd::probe
