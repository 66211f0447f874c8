// -T: ends the process when one step of a rank runs longer than the timeout.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace mrdperf {

class Watchdog {
 public:
  // Called on the watchdog's thread when a step overruns, with the rank and
  // the step; it must end the process. Unset: the nccl-tests message
  // ("<host>: Test timeout (<T>s): rank R is stuck in <step>") and exit 1.
  using Expiry = std::function<void(int rank, const std::string& what)>;

  // timeout_sec <= 0 disables it; nslots: ranks (threads) of this process.
  Watchdog(double timeout_sec, int nslots, Expiry on_expiry = nullptr);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Slot `slot` (run by rank `rank`) starts step `what`: it must end, or
  // the slot be re-armed, within the timeout.
  void Arm(int slot, int rank, const std::string& what);
  void Disarm(int slot);

 private:
  struct Slot {
    std::atomic<long long> deadline_ns{0};  // 0: disarmed
    int rank = -1;                          // and what, under mu_
    std::string what;
  };
  void Loop();

  const double timeout_sec_;
  const int nslots_;
  const Expiry on_expiry_;
  std::unique_ptr<Slot[]> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace mrdperf
