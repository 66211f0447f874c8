// Non-blocking init (config.blocking = 0), as NCCL's: the call returns
// mrdInProgress at once, mrdCommGetAsyncError reports mrdInProgress until
// the communicator is ready, calls made meanwhile say mrdInProgress, and a
// destroy during init returns promptly.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "meridian/meridian.h"

namespace {

using namespace std::chrono_literals;

mrdResult_t waitReady(mrdComm_t c) {
  mrdResult_t st = mrdInProgress;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (st == mrdInProgress && std::chrono::steady_clock::now() < deadline) {
    EXPECT_EQ(mrdCommGetAsyncError(c, &st), mrdSuccess);
    if (st == mrdInProgress) std::this_thread::sleep_for(1ms);
  }
  return st;
}

TEST(NonBlockingInit, ReturnsInProgressThenBecomesReady) {
  const int n = 3;
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess);
  std::vector<std::thread> th;
  for (int r = 0; r < n; ++r) {
    th.emplace_back([&, r] {
      mrdConfig_t cfg = MRD_CONFIG_INITIALIZER;
      cfg.blocking = 0;
      cfg.timeoutMs = 10000;
      mrdComm_t c = nullptr;
      if (r == 0) std::this_thread::sleep_for(200ms);  // the others must not be ready yet
      ASSERT_EQ(mrdCommInitRankConfig(&c, n, id, r, &cfg), mrdInProgress);
      ASSERT_NE(c, nullptr);
      if (r != 0) {
        mrdResult_t st;
        ASSERT_EQ(mrdCommGetAsyncError(c, &st), mrdSuccess);
        EXPECT_EQ(st, mrdInProgress);
        float y = 0;
        EXPECT_EQ(mrdAllReduce(&y, &y, 1, mrdFloat32, mrdSum, c, nullptr), mrdInProgress);
      }
      ASSERT_EQ(waitReady(c), mrdSuccess) << mrdGetLastError(c);
      float x = static_cast<float>(r + 1);
      EXPECT_EQ(mrdAllReduce(&x, &x, 1, mrdFloat32, mrdSum, c, nullptr), mrdSuccess);
      EXPECT_EQ(x, 6.0f);
      EXPECT_EQ(mrdCommDestroy(c), mrdSuccess);
    });
  }
  for (auto& t : th) t.join();
}

TEST(NonBlockingInit, DestroyWhileWaitingForAMissingRankIsPrompt) {
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess);
  mrdConfig_t cfg = MRD_CONFIG_INITIALIZER;
  cfg.blocking = 0;
  cfg.timeoutMs = 60000;
  mrdComm_t c = nullptr;
  ASSERT_EQ(mrdCommInitRankConfig(&c, 2, id, 0, &cfg), mrdInProgress);  // rank 1 never comes
  std::this_thread::sleep_for(100ms);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(mrdCommAbort(c), mrdSuccess);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

}  // namespace
