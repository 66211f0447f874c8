// MRD_PROBE_PEER_LOST_MS must not take a live peer for a lost one: a peer
// that is busy elsewhere (here: asleep, in no call at all) for far longer
// than the bound still has its kernel acknowledge our bytes, or shut its
// window once its buffers are full. Over TCP (loopback), the bound at
// 300 ms, the peer away for 2 s: small messages (only pings and the
// liveness check's own frames travel) and 8 MiB ones (the sender's data
// fills the sleeping peer's socket buffers). The lost case itself, a host
// whose every packet is dropped, is tests/netns/host_gone_test.sh.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "meridian/meridian.h"
#include "support/thread_ranks.h"

namespace mrdtest {
namespace {

void peerAwayFor(size_t count) {
  ScopedEnv tcp("MRD_SHM_DISABLE", "1");
  ScopedEnv lost("MRD_PROBE_PEER_LOST_MS", "300");
  mrdConfig_t cfg = testConfig(60000);
  spawnRanks(
      2,
      [&](int rank, mrdComm_t comm) {
        std::vector<float> buf(count, 1.0f);
        // Connected first: the wait below is inside an operation.
        ASSERT_EQ(mrdAllReduce(buf.data(), buf.data(), 1, mrdFloat32, mrdSum, comm, nullptr), mrdSuccess);
        if (rank == 1) std::this_thread::sleep_for(std::chrono::seconds(2));
        std::fill(buf.begin(), buf.end(), 1.0f);
        const auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(mrdAllReduce(buf.data(), buf.data(), buf.size(), mrdFloat32, mrdSum, comm, nullptr), mrdSuccess)
            << mrdGetLastError(comm);
        EXPECT_EQ(buf.front(), 2.0f);
        EXPECT_EQ(buf.back(), 2.0f);
        if (rank == 0) {
          // (It did wait for the peer: the case tests what it means to.)
          EXPECT_GT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
        }
      },
      &cfg, 60000);
}

TEST(PeerLost, APeerAwayLongerThanTheBoundIsNotLostSmallMessage) { peerAwayFor(1); }
TEST(PeerLost, APeerAwayLongerThanTheBoundIsNotLostLargeMessage) { peerAwayFor(2 << 20); }

}  // namespace
}  // namespace mrdtest
