#include "common/watchdog.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace mrdperf {
namespace {

long long NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Watchdog::Watchdog(double timeout_sec, int nslots, Expiry on_expiry)
    : timeout_sec_(timeout_sec), nslots_(nslots), on_expiry_(std::move(on_expiry)), slots_(new Slot[nslots]) {
  if (timeout_sec_ > 0) thread_ = std::thread(&Watchdog::Loop, this);
}

Watchdog::~Watchdog() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Watchdog::Arm(int slot, int rank, const std::string& what) {
  if (timeout_sec_ <= 0) return;
  Slot& s = slots_[slot];
  std::lock_guard<std::mutex> lock(mu_);
  s.rank = rank;
  s.what = what;
  s.deadline_ns.store(NowNs() + static_cast<long long>(timeout_sec_ * 1e9));
}

void Watchdog::Disarm(int slot) { slots_[slot].deadline_ns.store(0); }

void Watchdog::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return stop_; })) {
    const long long now = NowNs();
    for (int i = 0; i < nslots_; ++i) {
      const long long deadline = slots_[i].deadline_ns.load();
      if (deadline == 0 || now < deadline) continue;
      std::printf("\n");  // ends a half-printed table row
      std::fflush(stdout);
      if (on_expiry_) on_expiry_(slots_[i].rank, slots_[i].what);
      char host[256] = "unknown";
      gethostname(host, sizeof(host) - 1);
      std::fprintf(stderr, "%s: Test timeout (%.0fs): rank %d is stuck in %s\n", host, timeout_sec_,
                   slots_[i].rank, slots_[i].what.c_str());
      std::fflush(stderr);
      std::_Exit(EXIT_FAILURE);
    }
  }
}

}  // namespace mrdperf
