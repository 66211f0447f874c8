#include "support/thread_ranks.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace mrdtest {
namespace {

// Completion bookkeeping shared by the worker threads and the watchdog.
struct Completion {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<bool> done;
  int remaining = 0;
};

const char* currentTestName() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info != nullptr ? info->name() : "(no test)";
}

// Waits for every thread; on timeout reports the stragglers and ends the
// process, because a thread stuck inside the library cannot be stopped.
void waitOrDie(Completion* c, int watchdogMs, const char* what) {
  std::unique_lock<std::mutex> lock(c->mu);
  bool ok = c->cv.wait_for(lock, std::chrono::milliseconds(watchdogMs),
                           [c] { return c->remaining == 0; });
  if (ok) return;
  std::ostringstream stuck;
  for (size_t i = 0; i < c->done.size(); ++i) {
    if (!c->done[i]) stuck << " " << i;
  }
  ADD_FAILURE() << "watchdog: " << what << " still running after " << watchdogMs << " ms in test "
                << currentTestName() << "; unfinished:" << stuck.str()
                << ". Ending the process (a thread is stuck in the library).";
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(3);
}

void runRank(int rank, int n, const mrdUniqueId& id, mrdConfig_t cfg, const OwningRankFn& fn) {
  mrdComm_t comm = nullptr;
  mrdResult_t rc = mrdCommInitRankConfig(&comm, n, id, rank, &cfg);
  if (rc != mrdSuccess) {
    ADD_FAILURE() << "rank " << rank << "/" << n << ": mrdCommInitRankConfig returned " << rc
                  << " (" << mrdGetErrorString(rc) << "): " << mrdGetLastError(nullptr);
    return;
  }
  try {
    fn(rank, comm);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "rank " << rank << ": exception: " << e.what();
  } catch (...) {
    ADD_FAILURE() << "rank " << rank << ": unknown exception";
  }
  if (comm != nullptr) {
    rc = mrdCommDestroy(comm);
    EXPECT_EQ(rc, mrdSuccess) << "rank " << rank
                              << ": mrdCommDestroy: " << mrdGetLastError(nullptr);
  }
}

bool writeAll(int fd, const void* p, size_t len) {
  const char* c = static_cast<const char*>(p);
  while (len > 0) {
    ssize_t k = write(fd, c, len);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    c += k;
    len -= static_cast<size_t>(k);
  }
  return true;
}

bool readAll(int fd, void* p, size_t len, int timeoutMs) {
  char* c = static_cast<char*>(p);
  const long long deadline = nowMs() + timeoutMs;
  while (len > 0) {
    long long left = deadline - nowMs();
    if (left <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    int pr = poll(&pfd, 1, static_cast<int>(left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) return false;
    ssize_t k = read(fd, c, len);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    c += k;
    len -= static_cast<size_t>(k);
  }
  return true;
}

int failedParts() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) return 0;
  const ::testing::TestResult* result = info->result();
  int failed = 0;
  for (int i = 0; i < result->total_part_count(); ++i) {
    if (result->GetTestPartResult(i).failed()) ++failed;
  }
  return failed;
}

// Waits up to timeoutMs for pid; kills it if it is still running. Returns
// the wait status, or -1 if it had to be killed.
int reapWithin(pid_t pid, int timeoutMs) {
  const long long deadline = nowMs() + timeoutMs;
  int status = 0;
  while (true) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) return status;
    if (w < 0 && errno != EINTR) return status;
    if (nowMs() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGKILL);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return -1;
}

struct IdMessage {
  int rc;
  mrdUniqueId id;
};

}  // namespace

long long nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

mrdConfig_t testConfig(int timeoutMs) {
  mrdConfig_t cfg = MRD_CONFIG_INITIALIZER;
  cfg.timeoutMs = timeoutMs;
  return cfg;
}

void runThreads(int n, const std::function<void(int)>& fn, int watchdogMs) {
  auto c = std::make_shared<Completion>();
  c->done.assign(static_cast<size_t>(n), false);
  c->remaining = n;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([c, i, &fn] {
      try {
        fn(i);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "thread " << i << ": exception: " << e.what();
      } catch (...) {
        ADD_FAILURE() << "thread " << i << ": unknown exception";
      }
      std::lock_guard<std::mutex> g(c->mu);
      c->done[static_cast<size_t>(i)] = true;
      --c->remaining;
      c->cv.notify_all();
    });
  }
  waitOrDie(c.get(), watchdogMs, "threads");
  for (auto& t : threads) t.join();
}

void spawnRanksOwning(int n, OwningRankFn fn, mrdConfig_t* cfg, int watchdogMs) {
  mrdUniqueId id;
  mrdResult_t rc = mrdGetUniqueId(&id);
  ASSERT_EQ(rc, mrdSuccess) << "mrdGetUniqueId: " << mrdGetLastError(nullptr);
  const mrdConfig_t config = cfg != nullptr ? *cfg : testConfig();
  runThreads(
      n, [&](int rank) { runRank(rank, n, id, config, fn); }, watchdogMs);
}

void spawnRanks(int n, RankFn fn, mrdConfig_t* cfg, int watchdogMs) {
  spawnRanksOwning(
      n, [&fn](int rank, mrdComm_t& comm) { fn(rank, comm); }, cfg, watchdogMs);
}

void forkRanks(int n, RankFn fn, mrdConfig_t* cfg, int watchdogMs) {
  const mrdConfig_t config = cfg != nullptr ? *cfg : testConfig();
  std::fflush(stdout);
  std::fflush(stderr);
  int idPipe[2];
  int holdPipe[2];
  ASSERT_EQ(pipe(idPipe), 0) << std::strerror(errno);
  ASSERT_EQ(pipe(holdPipe), 0) << std::strerror(errno);
  const pid_t parent = getpid();

  // The helper hosts the bootstrap root until the parent closes holdPipe.
  pid_t helper = fork();
  ASSERT_GE(helper, 0) << "fork: " << std::strerror(errno);
  if (helper == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(4);
    close(idPipe[0]);
    close(holdPipe[1]);
    IdMessage msg;
    std::memset(&msg, 0, sizeof msg);
    msg.rc = mrdGetUniqueId(&msg.id);
    writeAll(idPipe[1], &msg, sizeof msg);
    close(idPipe[1]);
    char ch;
    while (true) {
      ssize_t k = read(holdPipe[0], &ch, 1);
      if (k == 0 || (k < 0 && errno != EINTR)) break;
    }
    _exit(0);
  }
  close(idPipe[1]);
  close(holdPipe[0]);
  IdMessage msg;
  std::memset(&msg, 0, sizeof msg);
  bool gotId = readAll(idPipe[0], &msg, sizeof msg, 20000);
  close(idPipe[0]);
  if (!gotId || msg.rc != mrdSuccess) {
    close(holdPipe[1]);
    reapWithin(helper, 1000);
    FAIL() << "forkRanks: the helper did not produce a unique id (rc " << msg.rc << ")";
  }

  std::vector<pid_t> pids(static_cast<size_t>(n), -1);
  for (int r = 0; r < n; ++r) {
    pid_t pid = fork();
    if (pid < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      break;
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(4);
      close(holdPipe[1]);
      const int before = failedParts();
      runRank(r, n, msg.id, config, [&fn](int rank, mrdComm_t& comm) { fn(rank, comm); });
      const int after = failedParts();
      std::fflush(stdout);
      std::fflush(stderr);
      _exit(after > before ? 1 : 0);
    }
    pids[static_cast<size_t>(r)] = pid;
  }

  // Wait for every rank until the watchdog deadline.
  const long long deadline = nowMs() + watchdogMs;
  std::vector<int> status(static_cast<size_t>(n), 0);
  std::vector<bool> done(static_cast<size_t>(n), false);
  int remaining = 0;
  for (int r = 0; r < n; ++r) {
    if (pids[static_cast<size_t>(r)] > 0) ++remaining;
  }
  while (remaining > 0 && nowMs() < deadline) {
    for (int r = 0; r < n; ++r) {
      const size_t k = static_cast<size_t>(r);
      if (done[k] || pids[k] <= 0) continue;
      pid_t w = waitpid(pids[k], &status[k], WNOHANG);
      if (w == pids[k]) {
        done[k] = true;
        --remaining;
      }
    }
    if (remaining > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (int r = 0; r < n; ++r) {
    const size_t k = static_cast<size_t>(r);
    if (pids[k] <= 0) continue;
    if (!done[k]) {
      reapWithin(pids[k], 0);
      ADD_FAILURE() << "watchdog: rank " << r << "/" << n << " (pid " << pids[k]
                    << ") still running after " << watchdogMs << " ms; killed";
      continue;
    }
    const int st = status[k];
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) continue;
    if (WIFEXITED(st)) {
      ADD_FAILURE() << "rank " << r << "/" << n << " exited with status " << WEXITSTATUS(st)
                    << " (its failures are printed above)";
    } else if (WIFSIGNALED(st)) {
      ADD_FAILURE() << "rank " << r << "/" << n << " was killed by signal " << WTERMSIG(st) << " ("
                    << strsignal(WTERMSIG(st)) << ")";
    } else {
      ADD_FAILURE() << "rank " << r << "/" << n << ": wait status " << st;
    }
  }
  close(holdPipe[1]);
  int hs = reapWithin(helper, 5000);
  EXPECT_TRUE(hs != -1 && WIFEXITED(hs) && WEXITSTATUS(hs) == 0)
      << "the unique-id helper did not exit cleanly (status " << hs << ")";
}

ScopedEnv::ScopedEnv(const char* name, const char* value) : name_(name) {
  const char* old = std::getenv(name);
  if (old != nullptr) {
    hadOld_ = true;
    old_ = strdup(old);
  }
  if (value != nullptr) {
    setenv(name, value, 1);
  } else {
    unsetenv(name);
  }
}

ScopedEnv::~ScopedEnv() {
  if (hadOld_) {
    setenv(name_, old_, 1);
    std::free(old_);
  } else {
    unsetenv(name_);
  }
}

void expectInitFailsOnEveryRank(int n, const std::function<void(int rank, const std::string& msg)>& check) {
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess);
  const long long t0 = nowMs();
  runThreads(n, [&](int rank) {
    mrdComm_t comm = nullptr;
    mrdConfig_t cfg = testConfig(20000);
    mrdResult_t rc = mrdCommInitRankConfig(&comm, n, id, rank, &cfg);
    EXPECT_NE(rc, mrdSuccess) << "rank " << rank;
    if (rc == mrdSuccess) {
      mrdCommDestroy(comm);
      return;
    }
    check(rank, mrdGetLastError(nullptr));
  });
  EXPECT_LT(nowMs() - t0, 10000) << "init should fail fast, not time out";
}

StderrToFile::StderrToFile(const std::string& path) {
  std::fflush(stderr);
  saved_ = dup(2);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  if (fd >= 0) {
    dup2(fd, 2);
    close(fd);
  }
}

StderrToFile::~StderrToFile() {
  std::fflush(stderr);
  if (saved_ >= 0) {
    dup2(saved_, 2);
    close(saved_);
  }
}

}  // namespace mrdtest
