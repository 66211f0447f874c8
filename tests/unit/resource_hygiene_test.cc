// After destroy or abort a communicator leaves nothing behind in the
// process: no /dev/shm segment, no file descriptor, no thread (counted
// through /proc/self). Thread ranks in this process; each test first runs
// a communicator once so that what lives for the whole process (the log,
// the hang-report thread, hwloc's caches) exists before counting.
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "meridian/meridian.h"
#include "support/thread_ranks.h"

namespace mrdtest {
namespace {

struct Resources {
  int fds = 0;
  int threads = 0;
  std::vector<std::string> segments;  // this process's /dev/shm/mrd-<pid>-*

  std::string describe() const {
    std::string s = std::to_string(fds) + " fds, " + std::to_string(threads) + " threads, segments:";
    for (const auto& n : segments) s += " " + n;
    return s;
  }
};

std::vector<std::string> listDir(const std::string& path, const std::string& prefix = "") {
  std::vector<std::string> out;
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (n.compare(0, prefix.size(), prefix) == 0) out.push_back(n);
  }
  closedir(d);
  return out;
}

Resources now() {
  Resources r;
  r.fds = static_cast<int>(listDir("/proc/self/fd").size()) - 1;  // minus opendir's own
  r.threads = static_cast<int>(listDir("/proc/self/task").size());
  r.segments = listDir("/dev/shm", "mrd-" + std::to_string(getpid()) + "-");
  return r;
}

// Threads and sockets go away a little after the calls return (a detached
// root thread, TIME_WAIT does not count: fds close at once): waits up to 3 s
// for the counts to come back.
Resources settledBack(const Resources& base) {
  Resources r = now();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while ((r.fds != base.fds || r.threads != base.threads || !r.segments.empty()) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    r = now();
  }
  return r;
}

void work(int rank, mrdComm_t comm) {
  std::vector<float> v(300000, static_cast<float>(rank));  // > board size: rings and sockets
  ASSERT_EQ(mrdAllReduce(v.data(), v.data(), v.size(), mrdFloat32, mrdSum, comm, nullptr), mrdSuccess)
      << mrdGetLastError(comm);
  // A stream starts the communicator's worker thread.
  mrdStream_t s = nullptr;
  ASSERT_EQ(mrdStreamCreate(comm, &s), mrdSuccess);
  ASSERT_EQ(mrdAllReduce(v.data(), v.data(), 8, mrdFloat32, mrdSum, comm, s), mrdSuccess);
  ASSERT_EQ(mrdStreamSynchronize(s), mrdSuccess) << mrdGetLastError(comm);
  ASSERT_EQ(mrdStreamDestroy(s), mrdSuccess);
  // A split communicator, destroyed before its parent.
  mrdComm_t half = nullptr;
  ASSERT_EQ(mrdCommSplit(comm, rank % 2, rank, &half, nullptr), mrdSuccess) << mrdGetLastError(comm);
  ASSERT_EQ(mrdAllReduce(v.data(), v.data(), 1000, mrdFloat32, mrdSum, half, nullptr), mrdSuccess);
  ASSERT_EQ(mrdCommDestroy(half), mrdSuccess);
}

TEST(ResourceHygiene, DestroyLeavesNoSegmentFdOrThread) {
  spawnRanks(4, work);
  const Resources base = settledBack(now());
  ASSERT_TRUE(base.segments.empty()) << base.describe();
  for (int round = 0; round < 2; ++round) {
    spawnRanks(4, work);
    const Resources after = settledBack(base);
    EXPECT_EQ(after.fds, base.fds) << "round " << round << ": " << after.describe();
    EXPECT_EQ(after.threads, base.threads) << "round " << round << ": " << after.describe();
    EXPECT_TRUE(after.segments.empty()) << "round " << round << ": " << after.describe();
  }
}

TEST(ResourceHygiene, AbortLeavesNoSegmentFdOrThread) {
  spawnRanks(3, work);
  const Resources base = settledBack(now());
  spawnRanksOwning(3, [](int rank, mrdComm_t& comm) {
    work(rank, comm);
    // Aborted with a stream worker running.
    mrdStream_t s = nullptr;
    ASSERT_EQ(mrdStreamCreate(comm, &s), mrdSuccess);
    EXPECT_EQ(mrdCommAbort(comm), mrdSuccess);
    comm = nullptr;
    mrdStreamDestroy(s);
  });
  const Resources after = settledBack(base);
  EXPECT_EQ(after.fds, base.fds) << after.describe();
  EXPECT_EQ(after.threads, base.threads) << after.describe();
  EXPECT_TRUE(after.segments.empty()) << after.describe();
}

}  // namespace
}  // namespace mrdtest
