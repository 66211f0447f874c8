// mrdCommAbort tells the peers why: a rank blocked on a communicator that
// another rank aborts learns who aborted it and, when an operation of the
// aborting process had failed before (on any communicator), that failure's
// cause. (Soak finding 4: over TCP a survivor named only the rank that
// aborted, "connection closed by the peer", not the rank that had died.)
//
// Two ranks as threads, communicators W (the spawned one) and S (a split
// of it). Rank 1 aborts S while rank 0 waits in an allreduce on S: rank 0
// fails with "rank 1 aborted the communicator". That failure is this
// process's first; then rank 0 aborts W while rank 1 waits on W: rank 1
// hears that rank 0 aborted after an operation failed, and why. (Ranks as
// threads share the process's record of its first failure; in a real job
// each process has its own.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "meridian/meridian.h"
#include "support/thread_ranks.h"

namespace mrdtest {
namespace {

void abortReasons() {
  mrdConfig_t cfg = testConfig(60000);
  std::atomic<int> phase{0};
  std::string rank0Error, rank1Error;
  mrdResult_t rank0Rc = mrdSuccess, rank1Rc = mrdSuccess;
  spawnRanksOwning(
      2,
      [&](int rank, mrdComm_t& world) {
        mrdComm_t sub = nullptr;
        ASSERT_EQ(mrdCommSplit(world, 0, rank, &sub, nullptr), mrdSuccess);
        std::vector<float> buf(1 << 14, 1.0f);
        // Both communicators connected before anything is aborted.
        ASSERT_EQ(mrdAllReduce(buf.data(), buf.data(), buf.size(), mrdFloat32, mrdSum, sub, nullptr), mrdSuccess);
        ASSERT_EQ(mrdAllReduce(buf.data(), buf.data(), buf.size(), mrdFloat32, mrdSum, world, nullptr), mrdSuccess);
        if (rank == 0) {
          phase.store(1);
          rank0Rc = mrdAllReduce(buf.data(), buf.data(), buf.size(), mrdFloat32, mrdSum, sub, nullptr);
          rank0Error = mrdGetLastError(sub);
          EXPECT_EQ(mrdCommAbort(sub), mrdSuccess);
          while (phase.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
          std::this_thread::sleep_for(std::chrono::milliseconds(200));  // rank 1 waits on W by now
          EXPECT_EQ(mrdCommAbort(world), mrdSuccess);
          world = nullptr;
          return;
        }
        while (phase.load() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // rank 0 waits on S by now
        EXPECT_EQ(mrdCommAbort(sub), mrdSuccess);
        phase.store(2);
        rank1Rc = mrdAllReduce(buf.data(), buf.data(), buf.size(), mrdFloat32, mrdSum, world, nullptr);
        rank1Error = mrdGetLastError(world);
        EXPECT_EQ(mrdCommAbort(world), mrdSuccess);
        world = nullptr;
      },
      &cfg, 60000);
  EXPECT_EQ(rank0Rc, mrdRemoteError);
  EXPECT_NE(rank0Error.find("the peer failed: rank 1 aborted the communicator (mrdCommAbort)"), std::string::npos)
      << rank0Error;
  EXPECT_EQ(rank1Rc, mrdRemoteError);
  EXPECT_NE(rank1Error.find("the peer failed: rank 0 aborted the communicator (mrdCommAbort) after an operation "
                            "of its process failed: rank 1 aborted the communicator"),
            std::string::npos)
      << rank1Error;
}

TEST(AbortReason, PeersHearWhoAbortedAndWhyOverSharedMemory) { abortReasons(); }

TEST(AbortReason, PeersHearWhoAbortedAndWhyOverTcp) {
  ScopedEnv tcp("MRD_SHM_DISABLE", "1");
  abortReasons();
}

}  // namespace
}  // namespace mrdtest
