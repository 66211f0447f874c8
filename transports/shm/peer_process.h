// Whether the process of a shared-memory peer still runs. Asked of a
// pidfd (Linux 5.3+): it turns readable when the process exits, zombie or
// reaped, and never refers to a later process given the same pid. Without
// one (older kernels), kill(pid, 0), which misses a zombie its parent has
// not reaped yet.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>

namespace mrd::transport::shm {

class PeerProcess {
 public:
  explicit PeerProcess(pid_t pid);
  ~PeerProcess();
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The process exited (false when it runs, or cannot be looked at: a pid
  // of another pid namespace is not ours to judge).
  bool gone() const;
  // gone(), but asking the kernel at most once per kCheckEveryNs: cheap
  // enough to call on every idle poll of a wait (from any thread).
  bool goneRateLimited();
  static constexpr uint64_t kCheckEveryNs = 10'000'000;

 private:
  pid_t pid_;
  int fd_ = -1;
  bool checkable_ = true;
  std::atomic<bool> gone_{false};
  std::atomic<uint64_t> nextCheckNs_{0};
};

}  // namespace mrd::transport::shm
