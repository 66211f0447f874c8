// A rank whose process ends in the middle of a collective (issue 6): every
// survivor's operation fails within 2 s of it, not at the timeout (30 s
// here), with mrdRemoteError and an error naming the dead rank, whether it
// waited on the dead rank itself or on a neighbour that gave up, over
// shared memory and over TCP, blocking and on a stream.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "meridian/meridian.h"
#include "support/thread_ranks.h"

namespace mrdtest {
namespace {

constexpr int kRanks = 4;
constexpr int kVictim = kRanks - 1;
constexpr size_t kCount = 256 << 10;  // 1 MiB of floats: ring steps, not the board

int64_t monoUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // one clock for every process
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// What the ranks write for the parent (a shared mapping made before the fork).
struct Board {
  std::atomic<int64_t> deathUs;  // when the victim ended its process
  std::atomic<int> started;      // ranks inside their loop of operations
};

struct Param {
  bool tcp;
  bool stream;
};

class PeerDeath : public ::testing::TestWithParam<Param> {};

TEST_P(PeerDeath, EverySurvivorFailsWithinTwoSecondsNamingTheDeadRank) {
  const Param p = GetParam();
  ScopedEnv shm("MRD_SHM_DISABLE", p.tcp ? "1" : nullptr);
  void* mem = mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  Board* board = new (mem) Board{};
  mrdConfig_t cfg = testConfig(30000);
  forkRanks(
      kRanks,
      [&](int rank, mrdComm_t comm) {
        std::vector<float> buf(kCount, 1.0f);
        mrdStream_t stream = nullptr;
        if (p.stream) {
          ASSERT_EQ(mrdStreamCreate(comm, &stream), mrdSuccess);
        }
        board->started.fetch_add(1);
        if (rank == kVictim) {
          // Ends the process from another thread while this one is inside
          // an operation, once every rank runs them.
          std::thread([board] {
            while (board->started.load() < kRanks) usleep(1000);
            usleep(100000);
            board->deathUs.store(monoUs());
            _exit(0);
          }).detach();
        }
        mrdResult_t rc = mrdSuccess;
        while (rc == mrdSuccess) {
          rc = mrdAllReduce(buf.data(), buf.data(), kCount, mrdFloat32, mrdSum, comm, stream);
          if (rc == mrdSuccess && p.stream) rc = mrdStreamSynchronize(stream);
        }
        const int64_t failedUs = monoUs();
        const std::string err = mrdGetLastError(comm);
        ASSERT_GT(board->deathUs.load(), 0) << "rank " << rank << " failed before the victim died: " << err;
        const double ms = static_cast<double>(failedUs - board->deathUs.load()) / 1000.0;
        EXPECT_EQ(rc, mrdRemoteError) << "rank " << rank << ": " << err;
        EXPECT_LT(ms, 2000) << "rank " << rank << " failed " << ms << " ms after rank " << kVictim << " died: " << err;
        const bool named = err.find("peer " + std::to_string(kVictim)) != std::string::npos ||
                           err.find("rank " + std::to_string(kVictim)) != std::string::npos;
        EXPECT_TRUE(named) << "rank " << rank << "'s error does not name rank " << kVictim << ": " << err;
        mrdResult_t async = mrdSuccess;
        EXPECT_EQ(mrdCommGetAsyncError(comm, &async), mrdSuccess);
        EXPECT_NE(async, mrdSuccess) << "rank " << rank;
        if (stream != nullptr) mrdStreamDestroy(stream);
      },
      &cfg, 60000);
  munmap(mem, sizeof(Board));
}

INSTANTIATE_TEST_SUITE_P(All, PeerDeath,
                         ::testing::Values(Param{false, false}, Param{false, true}, Param{true, false},
                                           Param{true, true}),
                         [](const ::testing::TestParamInfo<Param>& info) {
                           return std::string(info.param.tcp ? "tcp" : "shm") + (info.param.stream ? "_stream" : "_blocking");
                         });

}  // namespace
}  // namespace mrdtest
