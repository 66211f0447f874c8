#include "link_fault/fault_hook.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mrdlinkfault {
namespace {

uint64_t ClockUs(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

uint64_t MonotonicUs() { return ClockUs(CLOCK_MONOTONIC); }

bool FaultEvent::IsRepair() const {
  return what.rfind("up", 0) == 0 || what.rfind("uncut", 0) == 0 || what.rfind("clear", 0) == 0 ||
         (what.rfind("flap", 0) == 0 && what.find("; up") != std::string::npos);
}

bool FaultEvent::OneRail(int* rail) const {
  const size_t named = what.find("rail ");
  return named != std::string::npos && std::sscanf(what.c_str() + named, "rail %d", rail) == 1;
}

double FaultEvent::EffectUs() const {
  const size_t at = what.rfind("in effect after ");
  return at == std::string::npos ? -1 : std::strtod(what.c_str() + at + 16, nullptr);
}

double FaultEvent::WholeUs() const {
  const size_t at = what.rfind("whole after ");
  return at == std::string::npos ? -1 : std::strtod(what.c_str() + at + 12, nullptr);
}

FaultHook::~FaultHook() { Finish(); }

bool FaultHook::Start() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "link_fault_perf: --fault: pipe: %s\n", std::strerror(errno));
    return false;
  }
  start_us_ = MonotonicUs();
  const pid_t pid = fork();
  if (pid < 0) {
    std::fprintf(stderr, "link_fault_perf: --fault: fork: %s\n", std::strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    execl("/bin/sh", "sh", "-c", command_.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);  // also here: no race with Finish's kill of the group
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  pid_ = pid;
  out_fd_ = fds[0];
  std::printf("# fault: started at +0 ms: %s\n", command_.c_str());
  std::fflush(stdout);
  return true;
}

void FaultHook::TakeLine(const std::string& line) {
  // "rail_fault <epoch µs>: what"
  unsigned long long epoch_us = 0;
  int consumed = 0;
  if (std::sscanf(line.c_str(), "rail_fault %llu: %n", &epoch_us, &consumed) == 1 &&
      consumed > 0) {
    const uint64_t now_real = ClockUs(CLOCK_REALTIME);
    const uint64_t now_mono = MonotonicUs();
    const long long age_us = static_cast<long long>(now_real) - static_cast<long long>(epoch_us);
    events_.push_back({now_mono - static_cast<uint64_t>(age_us > 0 ? age_us : 0),
                       line.substr(static_cast<size_t>(consumed))});
    // The probe log's clock, for reading a log against the fault later.
    std::printf("# fault: %s [CLOCK_MONOTONIC %llu us]\n", line.c_str(),
                static_cast<unsigned long long>(events_.back().mono_us));
  } else {
    std::printf("# fault: %s\n", line.c_str());
  }
  std::fflush(stdout);
}

void FaultHook::Poll() {
  if (out_fd_ >= 0) {
    char buf[4096];
    for (;;) {
      const ssize_t n = read(out_fd_, buf, sizeof(buf));
      if (n > 0) {
        partial_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) {  // every writer closed
        close(out_fd_);
        out_fd_ = -1;
      }
      break;  // EAGAIN, or error
    }
    size_t nl;
    while ((nl = partial_.find('\n')) != std::string::npos) {
      TakeLine(partial_.substr(0, nl));
      partial_.erase(0, nl + 1);
    }
  }
  if (pid_ > 0) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exited_ = true;
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      std::printf("# fault: command ended (%s %d) at +%.0f ms\n",
                  WIFEXITED(status) ? "status" : "signal",
                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                  (MonotonicUs() - start_us_) / 1e3);
      std::fflush(stdout);
    }
  }
}

int FaultHook::Finish() {
  Poll();
  if (pid_ > 0) {
    stopped_ = true;
    kill(-pid_, SIGTERM);
    for (int i = 0; i < 100 && pid_ > 0; ++i) {  // up to 1 s to wind down
      usleep(10000);
      Poll();
    }
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
      exited_ = true;
      status_ = -1;
    }
  }
  if (out_fd_ >= 0) {
    Poll();  // what the group wrote before it ended (never blocks)
    if (out_fd_ >= 0) {
      close(out_fd_);
      out_fd_ = -1;
    }
  }
  if (!partial_.empty()) {
    TakeLine(partial_);
    partial_.clear();
  }
  return status_;
}

}  // namespace mrdlinkfault
