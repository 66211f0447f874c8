// link_fault_perf's --fault hook: rank 0 runs a shell command in the
// background at a set time (e.g. tests/netns/rail_fault.sh down 1), echoes
// its output as "# fault: ..." lines and collects the times it says it
// acted ("rail_fault <epoch µs>: ..." lines), converted to CLOCK_MONOTONIC
// so they compare with the library's path state changes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mrdlinkfault {

// CLOCK_MONOTONIC in microseconds (the clock of mrdPathStats_t).
uint64_t MonotonicUs();

struct FaultEvent {
  uint64_t mono_us;  // when the command said it acted
  std::string what;  // the rest of its line

  // A repair says "up ...", "uncut ...", "clear ..." or "flap ... done:
  // ...; up"; anything else from the fault tool is taken as a fault.
  bool IsRepair() const;
  // The rail it names ("... rail N ..."), when it names one: "rail all"
  // and "cut hosts 0,1" act on every rail, and so name none.
  bool OneRail(int* rail) const;
  // "... in effect after E us": E, when the kernel reported the change
  // (rate, down, up; its first qdisc or link changed); -1 when the line
  // does not say.
  double EffectUs() const;
  // "... whole after W us": W, when the kernel had reported every qdisc or
  // link it changed (the last one); -1 when the line does not say (an
  // expected change never reported).
  double WholeUs() const;
};

class FaultHook {
 public:
  explicit FaultHook(std::string command) : command_(std::move(command)) {}
  ~FaultHook();  // ends the command (its whole process group) if still running
  FaultHook(const FaultHook&) = delete;
  FaultHook& operator=(const FaultHook&) = delete;

  // Starts `sh -c command` in its own process group; false (with a message
  // on stderr) when it cannot.
  bool Start();
  bool started() const { return pid_ > 0 || exited_; }
  uint64_t start_mono_us() const { return start_us_; }
  // Reads what the command printed so far (non-blocking): echoes it and
  // records its events; reaps it once it exits.
  void Poll();
  // Stops the command if still running (SIGTERM to its group, then SIGKILL)
  // and reads its last output. Returns its exit status (-1: ended by a
  // signal, ours or not, or never run).
  int Finish();
  // Whether it ended on its own (not stopped by Finish) with a non-zero
  // status or by a signal: the fault it was to cause may not have happened.
  bool failed() const { return exited_ && !stopped_ && status_ != 0; }
  const std::vector<FaultEvent>& events() const { return events_; }

 private:
  void TakeLine(const std::string& line);

  std::string command_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool exited_ = false;
  bool stopped_ = false;  // Finish had to end it
  int status_ = -1;
  uint64_t start_us_ = 0;
  std::string partial_;
  std::vector<FaultEvent> events_;
};

}  // namespace mrdlinkfault
