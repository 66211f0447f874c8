#include "soak/hang_watch.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "soak/soak_options.h"

namespace soak {

HangWatch::HangWatch(int rank, double seconds)
    : rank_(rank), seconds_(seconds), thread_([this] { Loop(); }) {}

HangWatch::~HangWatch() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void HangWatch::Arm(const std::string& what) {
  std::lock_guard<std::mutex> g(mu_);
  what_ = what;
  armed_ = true;
  deadline_ = std::chrono::steady_clock::now() +
              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                  std::chrono::duration<double>(seconds_));
}

void HangWatch::Disarm() {
  std::lock_guard<std::mutex> g(mu_);
  armed_ = false;
}

void HangWatch::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; })) {
    if (!armed_ || std::chrono::steady_clock::now() < deadline_) continue;
    std::fflush(stdout);
    std::fprintf(stderr, "soak: rank %d: HANG: %s has not finished after %.0f s\n", rank_,
                 what_.c_str(), seconds_);
    // The library's hang report, if it took SIGUSR1 (it leaves it alone
    // otherwise, and the default action would end the process unreported).
    struct sigaction old {};
    if (sigaction(SIGUSR1, nullptr, &old) == 0 && old.sa_handler != SIG_DFL &&
        old.sa_handler != SIG_IGN) {
      raise(SIGUSR1);
      lock.unlock();
      sleep(2);
    }
    std::fflush(stderr);
    std::_Exit(kExitHang);
  }
}

}  // namespace soak
