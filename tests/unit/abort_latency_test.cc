// mrdCommAbort returns within 1 s from any state (issue 6), and the calls
// other threads are blocked in on that communicator return within 1 s of
// it with an error: idle after operations, a blocking call waiting for a
// peer that never joins (shared memory and TCP), stream work queued behind
// such a call, and a non-blocking init waiting for ranks that never come.
// Timeouts are 60 s, so every error comes from the abort. Each case prints
// what it measured ("abort: ...") for the record.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "meridian/meridian.h"
#include "support/thread_ranks.h"

namespace mrdtest {
namespace {

constexpr double kBoundMs = 1000;

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

TEST(AbortLatency, IdleAfterOperations) {
  mrdConfig_t cfg = testConfig(60000);
  spawnRanksOwning(
      2,
      [&](int rank, mrdComm_t& comm) {
        std::vector<float> buf(1 << 16, 1.0f);
        for (int i = 0; i < 5; ++i) {
          ASSERT_EQ(mrdAllReduce(buf.data(), buf.data(), buf.size(), mrdFloat32, mrdSum, comm, nullptr), mrdSuccess);
        }
        ASSERT_EQ(mrdBarrier(comm, nullptr), mrdSuccess);
        const auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(mrdCommAbort(comm), mrdSuccess);
        comm = nullptr;
        const double ms = msSince(t0);
        std::printf("abort: idle, rank %d: %.1f ms\n", rank, ms);
        EXPECT_LT(ms, kBoundMs);
      },
      &cfg, 60000);
}

// Rank 1 has `calls` threads blocked (or stream work queued) on a peer that
// never joins; another thread aborts.
void abortUnderBlockedCalls(bool stream) {
  mrdConfig_t cfg = testConfig(60000);
  std::atomic<bool> rank1Done{false};
  spawnRanksOwning(
      2,
      [&](int rank, mrdComm_t& comm) {
        if (rank == 0) {
          // Never joins; leaves once rank 1 is done (destroyed by the spawner).
          for (int i = 0; i < 6000 && !rank1Done.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
          return;
        }
        std::atomic<int> inside{0};
        std::vector<std::chrono::steady_clock::time_point> returned(2);
        std::vector<mrdResult_t> rc(2, mrdSuccess);
        std::vector<std::thread> threads;
        mrdComm_t c = comm;
        if (stream) {
          threads.emplace_back([&] {
            mrdStream_t s = nullptr;
            ASSERT_EQ(mrdStreamCreate(c, &s), mrdSuccess);
            std::vector<float> buf(1 << 16, 1.0f);
            mrdResult_t r = mrdSuccess;
            for (int i = 0; i < 100 && r == mrdSuccess; ++i) {
              r = mrdAllReduce(buf.data(), buf.data(), buf.size(), mrdFloat32, mrdSum, c, s);
            }
            inside.fetch_add(1);
            if (r == mrdSuccess) r = mrdStreamSynchronize(s);
            rc[0] = r;
            returned[0] = std::chrono::steady_clock::now();
            mrdStreamDestroy(s);
          });
        } else {
          threads.emplace_back([&] {
            std::vector<float> buf(1 << 16, 1.0f);
            inside.fetch_add(1);
            rc[0] = mrdAllReduce(buf.data(), buf.data(), buf.size(), mrdFloat32, mrdSum, c, nullptr);
            returned[0] = std::chrono::steady_clock::now();
          });
        }
        while (inside.load() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::this_thread::sleep_for(std::chrono::milliseconds(300));  // well inside the wait
        const auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(mrdCommAbort(comm), mrdSuccess);
        comm = nullptr;
        const double abortMs = msSince(t0);
        for (auto& t : threads) t.join();
        const double callMs = std::chrono::duration<double, std::milli>(returned[0] - t0).count();
        std::printf("abort: %s, %s: abort returned after %.1f ms, the blocked call after %.1f ms\n",
                    stream ? "stream work queued" : "a blocking call waiting", std::getenv("MRD_SHM_DISABLE") ? "tcp" : "shm",
                    abortMs, callMs);
        EXPECT_LT(abortMs, kBoundMs);
        EXPECT_LT(callMs, kBoundMs);
        EXPECT_TRUE(rc[0] == mrdRemoteError || rc[0] == mrdInvalidUsage) << mrdGetErrorString(rc[0]);
        rank1Done.store(true);
      },
      &cfg, 60000);
}

TEST(AbortLatency, ABlockingCallWaitingOverSharedMemory) { abortUnderBlockedCalls(false); }
TEST(AbortLatency, QueuedStreamWorkOverSharedMemory) { abortUnderBlockedCalls(true); }

TEST(AbortLatency, ABlockingCallWaitingOverTcp) {
  ScopedEnv tcp("MRD_SHM_DISABLE", "1");
  abortUnderBlockedCalls(false);
}

TEST(AbortLatency, QueuedStreamWorkOverTcp) {
  ScopedEnv tcp("MRD_SHM_DISABLE", "1");
  abortUnderBlockedCalls(true);
}

// A non-blocking init of rank 0 of 3 whose other ranks never come.
TEST(AbortLatency, ANonBlockingInitWaitingForRanksThatNeverCome) {
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess);
  mrdConfig_t cfg = testConfig(60000);
  cfg.blocking = 0;
  mrdComm_t comm = nullptr;
  const mrdResult_t init = mrdCommInitRankConfig(&comm, 3, id, 0, &cfg);
  ASSERT_TRUE(init == mrdInProgress || init == mrdSuccess) << mrdGetErrorString(init);
  ASSERT_NE(comm, nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  mrdResult_t async = mrdSuccess;
  ASSERT_EQ(mrdCommGetAsyncError(comm, &async), mrdSuccess);
  EXPECT_EQ(async, mrdInProgress);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(mrdCommAbort(comm), mrdSuccess);
  const double ms = msSince(t0);
  std::printf("abort: non-blocking init waiting for 2 absent ranks: %.1f ms\n", ms);
  EXPECT_LT(ms, kBoundMs);
}

}  // namespace
}  // namespace mrdtest
