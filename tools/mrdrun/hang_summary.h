// mrdrun's summary of the ranks' hang reports (see src/core/hang_report.h):
// the ranks write each report line, prefixed by their job rank, to a pipe
// mrdrun gives them (MRD_HANG_REPORT_FD); mrdrun gathers a round of them
// and prints who waits on whom, and the rank(s) the others wait on.
#pragma once

#include <string>
#include <vector>

namespace mrdrun {

class HangSummary {
 public:
  // One line as the ranks write it: "<job rank>[:s] rank <r>: hang report: ..."
  // (":s": that rank reports on SIGUSR1).
  // Lines that do not parse are kept and shown as they are.
  void add(const std::string& line);
  bool empty() const { return reports_.empty() && unparsed_.empty(); }
  // A rank of this round takes SIGUSR1 for reports.
  bool signalable() const { return signalable_; }
  // The summary of the lines added since the last call (each line of it
  // without a trailing newline), for a job of np ranks; clears them.
  std::vector<std::string> take(int np);

 private:
  struct Report {
    int jobRank = -1;
    int commRank = -1;
    std::string comm;   // the communicator's tag
    bool waiting = false;
    int peer = -1;      // communicator rank it waits on (-1: none named)
    std::string op;     // "operation 12 (allreduce of 1024 float)"
    long waitedMs = 0;
  };
  std::vector<Report> reports_;  // the latest per (job rank, communicator)
  std::vector<std::string> unparsed_;
  bool signalable_ = false;
};

}  // namespace mrdrun
