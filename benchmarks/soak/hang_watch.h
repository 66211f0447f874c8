// A step that runs too long is a hang: the watch thread reports what the
// rank was doing, asks the library for its hang report (SIGUSR1, when the
// library handles it) and ends the process with status 4.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace soak {

class HangWatch {
 public:
  HangWatch(int rank, double seconds);
  ~HangWatch();
  HangWatch(const HangWatch&) = delete;
  HangWatch& operator=(const HangWatch&) = delete;

  // `what` must finish within the watch's seconds.
  void Arm(const std::string& what);
  void Disarm();

 private:
  void Loop();

  const int rank_;
  const double seconds_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool armed_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::string what_;
  std::thread thread_;
};

}  // namespace soak
