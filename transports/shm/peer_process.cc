#include "peer_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "log/log.h"

namespace mrd::transport::shm {
namespace {

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434  // the same number on every architecture
#endif

uint64_t monoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

PeerProcess::PeerProcess(pid_t pid) : pid_(pid) {
  if (pid <= 0) {
    checkable_ = false;
    return;
  }
  // Close-on-exec by itself.
  const long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    fd_ = static_cast<int>(fd);
    return;
  }
  if (errno == ESRCH) {
    // Not a process of our pid namespace (a peer in another container
    // sharing /dev/shm), or gone already: the first cannot be judged by
    // pid at all, so neither is (the abort flag and timeouts remain).
    checkable_ = false;
    MRD_LOG_INFO(kShm, "pid {} of a shared-memory peer is not visible here: its liveness is not checked by pid", pid);
  }
}

PeerProcess::~PeerProcess() {
  if (fd_ >= 0) close(fd_);
}

bool PeerProcess::gone() const {
  if (!checkable_) return false;
  if (fd_ >= 0) {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
  }
  return kill(pid_, 0) != 0 && errno == ESRCH;
}

bool PeerProcess::goneRateLimited() {
  if (gone_.load(std::memory_order_relaxed)) return true;
  const uint64_t now = monoNs();
  if (now < nextCheckNs_.load(std::memory_order_relaxed)) return false;
  nextCheckNs_.store(now + kCheckEveryNs, std::memory_order_relaxed);
  if (!gone()) return false;
  gone_.store(true, std::memory_order_relaxed);
  return true;
}

}  // namespace mrd::transport::shm
