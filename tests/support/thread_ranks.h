// Runs the ranks of a test communicator as threads of this process (tier 1)
// or as forked processes (tier 2).
//
// Both variants get one mrdUniqueId, initialise every rank with
// mrdCommInitRankConfig, run the test body for each rank, and destroy the
// communicators. Use EXPECT_* (or ASSERT_* that only returns from the body)
// inside the body: gtest records failures from any thread of the process,
// and a forked rank reports its failures through its exit status.
//
// A watchdog bounds every run: a rank that has not finished in time fails
// the test and ends the process (threads) or is killed (processes), so a
// hang in the library never hangs ctest.
#pragma once

#include <functional>
#include <string>

#include "meridian/meridian.h"

namespace mrdtest {

// Per-wait timeout given to the library (mrdConfig_t::timeoutMs) when the
// caller passes no config: a broken library fails an operation quickly.
constexpr int kDefaultCommTimeoutMs = 20000;
// Longest a whole spawnRanks/forkRanks run may take before the watchdog fires.
constexpr int kDefaultWatchdogMs = 90000;

// A config initialised with MRD_CONFIG_INITIALIZER and the given timeout.
mrdConfig_t testConfig(int timeoutMs = kDefaultCommTimeoutMs);

using RankFn = std::function<void(int rank, mrdComm_t comm)>;
// The body may take over the communicator: after it calls mrdCommAbort or
// mrdCommDestroy itself it sets comm to nullptr and no destroy follows.
using OwningRankFn = std::function<void(int rank, mrdComm_t& comm)>;

// Threads as ranks. cfg == nullptr: testConfig(). The communicators are
// destroyed after every rank's body has returned on that rank's thread.
void spawnRanks(int n, RankFn fn, mrdConfig_t* cfg = nullptr, int watchdogMs = kDefaultWatchdogMs);
void spawnRanksOwning(int n, OwningRankFn fn, mrdConfig_t* cfg = nullptr,
                      int watchdogMs = kDefaultWatchdogMs);

// n plain threads running fn(index) under the watchdog (no communicator):
// for tests that drive mrdCommInitRank themselves.
void runThreads(int n, const std::function<void(int index)>& fn,
                int watchdogMs = kDefaultWatchdogMs);

// Processes as ranks. The parent never calls into the library: a helper
// child creates the unique id (hosting the bootstrap root) and n children
// run the ranks. Environment variables set before the call therefore reach
// every rank (the library reads its parameters once per process). A rank
// passes when its body recorded no gtest failure; the parent reports ranks
// that failed, crashed or outlived the watchdog (those are killed).
void forkRanks(int n, RankFn fn, mrdConfig_t* cfg = nullptr, int watchdogMs = kDefaultWatchdogMs);

// Sends this process's stderr (and so the log lines of its ranks, threads
// or forked, which the library writes there line by line) to a file while
// it lives.
class StderrToFile {
 public:
  explicit StderrToFile(const std::string& path);
  ~StderrToFile();
  StderrToFile(const StderrToFile&) = delete;
  StderrToFile& operator=(const StderrToFile&) = delete;

 private:
  int saved_ = -1;
};

// Sets an environment variable for the lifetime of the object, restoring
// the previous value (or its absence) afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  bool hadOld_ = false;
  char* old_ = nullptr;
};

// Milliseconds on a monotonic clock, for bounding how long a call took.
long long nowMs();

// Every one of n thread ranks must fail mrdCommInitRankConfig, within 10 s
// (fast, not by timing out); check(rank, message) then looks at each
// rank's mrdGetLastError text.
void expectInitFailsOnEveryRank(int n, const std::function<void(int rank, const std::string& msg)>& check);

}  // namespace mrdtest
