// -T: ends the process when one step of a rank runs longer than the timeout.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace mrdperf {

class Watchdog {
 public:
  // timeout_sec == 0 disables it; nslots: ranks (threads) of this process.
  Watchdog(int timeout_sec, int nslots);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Slot `slot` (run by rank `rank`) starts step `what` (a string literal):
  // it must end, or the slot be re-armed, within the timeout.
  void Arm(int slot, int rank, const char* what);
  void Disarm(int slot);

 private:
  struct Slot {
    std::atomic<long long> deadline_ns{0};  // 0: disarmed
    std::atomic<int> rank{-1};
    std::atomic<const char*> what{""};
  };
  void Loop();

  const int timeout_sec_;
  const int nslots_;
  std::unique_ptr<Slot[]> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace mrdperf
