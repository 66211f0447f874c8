// Hang reports: what each rank is waiting for, on demand.
//
// A rank logs a report (at WARN, subsystem COLL, one line per operation,
// each containing "hang report:") when
//   - the process gets SIGUSR1 (MRD_HANG_REPORT_SIGNAL=1, the default, and
//     only when the application left SIGUSR1 at its default action), or
//   - an operation has waited MRD_HANG_REPORT_MS without progress (then
//     again after each further MRD_HANG_REPORT_MS).
// An operation in flight reports itself from its executor (sequence number,
// collective, how long it waited, which transfer of which peer and channel
// it waits on, and that link's state); a communicator with no operation in
// flight is reported by the reporter thread as idle. mrdrun forwards
// SIGUSR1 to the ranks and sums the reports up (who waits on whom;
// tools/mrdrun/hang_summary.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace mrd::hang {

// Changes each time a report is requested (SIGUSR1). Cheap: a relaxed load.
uint64_t requestCount();

// Installs the SIGUSR1 handler and starts the reporter thread, once per
// process (later calls do nothing). Returns false when the signal is not
// used (MRD_HANG_REPORT_SIGNAL=0, or the application handles SIGUSR1).
bool installSignalOnce();

// As SIGUSR1 does (tests, and a process that handles SIGUSR1 itself).
void requestReport();

// A communicator's idle report: returns the line to log, or "" when an
// operation is in flight (its executor reports). Called on the reporter
// thread; registration and removal are serialised with it.
using IdleReport = std::function<std::string()>;
void registerIdle(const void* key, int rank, IdleReport report);
void unregisterIdle(const void* key);

// The text every report line carries, for mrdrun and tests to find.
constexpr const char* kMarker = "hang report:";

// Logs one report line (WARN, COLL) and, under mrdrun, also writes it,
// prefixed by the job rank (MRD_RANK), to the pipe MRD_HANG_REPORT_FD names.
// Lines: "rank R: hang report: operation N (WHAT) on communicator TAG
// without progress for W ms: DETAIL" or "rank R: hang report: no operation
// in flight on communicator TAG (...)".
void emit(const std::string& line);

// One wait's reporting: when is a report due (a request came, or the wait
// passed the next multiple of MRD_HANG_REPORT_MS).
class WaitReporter {
 public:
  void start(int64_t everyMs) {
    seen_ = requestCount();
    everyMs_ = everyMs;
    nextMs_ = everyMs;
  }
  void progressed() { nextMs_ = everyMs_; }
  // waitedMs: since the last progress.
  bool due(int64_t waitedMs) {
    const uint64_t c = requestCount();
    if (c != seen_) {
      seen_ = c;
      return true;
    }
    if (everyMs_ > 0 && waitedMs >= nextMs_) {
      nextMs_ = (waitedMs / everyMs_ + 1) * everyMs_;
      return true;
    }
    return false;
  }

 private:
  uint64_t seen_ = 0;
  int64_t everyMs_ = 0;
  int64_t nextMs_ = 0;
};

}  // namespace mrd::hang
