// Groups that span several communicators, grouped init and mrdCommInitAll:
// one thread drives several ranks of a job, as NCCL's single-process,
// many-device programs do. Run one after the other on one thread these
// operations would wait on each other forever; grouped, they must finish.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "meridian/meridian.h"

namespace {

using namespace std::chrono_literals;

class Comms {
 public:
  explicit Comms(int n) : c_(static_cast<size_t>(n), nullptr) {}
  ~Comms() {
    for (mrdComm_t c : c_) {
      if (c != nullptr) {
        EXPECT_EQ(mrdCommDestroy(c), mrdSuccess);
      }
    }
  }
  mrdComm_t* data() { return c_.data(); }
  mrdComm_t operator[](int i) const { return c_[static_cast<size_t>(i)]; }
  int size() const { return static_cast<int>(c_.size()); }

 private:
  std::vector<mrdComm_t> c_;
};

TEST(CommInitAll, CreatesEveryRankOfOneJob) {
  Comms comms(4);
  ASSERT_EQ(mrdCommInitAll(comms.data(), 4, nullptr), mrdSuccess) << mrdGetLastError(nullptr);
  for (int i = 0; i < 4; ++i) {
    int rank = -1, count = -1;
    ASSERT_NE(comms[i], nullptr);
    EXPECT_EQ(mrdCommUserRank(comms[i], &rank), mrdSuccess);
    EXPECT_EQ(mrdCommCount(comms[i], &count), mrdSuccess);
    EXPECT_EQ(rank, i);
    EXPECT_EQ(count, 4);
  }
}

TEST(CommInitAll, RejectsBadArguments) {
  mrdComm_t one = nullptr;
  EXPECT_EQ(mrdCommInitAll(nullptr, 2, nullptr), mrdInvalidArgument);
  EXPECT_EQ(mrdCommInitAll(&one, 0, nullptr), mrdInvalidArgument);
  EXPECT_NE(std::strstr(mrdGetLastError(nullptr), "ndev"), nullptr) << mrdGetLastError(nullptr);
}

TEST(MultiCommGroup, OneThreadRunsAllReduceOnEveryRank) {
  const int n = 4;
  Comms comms(n);
  ASSERT_EQ(mrdCommInitAll(comms.data(), n, nullptr), mrdSuccess) << mrdGetLastError(nullptr);
  // Large enough for the pipelined ring, small enough to stay quick.
  const size_t count = (1 << 20) + 3;
  std::vector<std::vector<float>> buf(n);
  for (int r = 0; r < n; ++r) {
    buf[static_cast<size_t>(r)].resize(count);
    for (size_t i = 0; i < count; ++i) buf[static_cast<size_t>(r)][i] = static_cast<float>((i % 7) + r);
  }
  ASSERT_EQ(mrdGroupStart(), mrdSuccess);
  for (int r = 0; r < n; ++r) {
    float* p = buf[static_cast<size_t>(r)].data();
    ASSERT_EQ(mrdAllReduce(p, p, count, mrdFloat32, mrdSum, comms[r], nullptr), mrdSuccess);
  }
  ASSERT_EQ(mrdGroupEnd(), mrdSuccess) << mrdGetLastError(comms[0]);
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < count; ++i) {
      ASSERT_EQ(buf[static_cast<size_t>(r)][i], static_cast<float>(4 * (i % 7) + 6)) << "rank " << r << " at " << i;
    }
  }
}

TEST(MultiCommGroup, SendRecvRingAcrossRanksOfOneThread) {
  const int n = 3;
  Comms comms(n);
  ASSERT_EQ(mrdCommInitAll(comms.data(), n, nullptr), mrdSuccess) << mrdGetLastError(nullptr);
  const size_t count = 100003;
  std::vector<std::vector<int32_t>> out(n, std::vector<int32_t>(count)), in(n, std::vector<int32_t>(count, -1));
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < count; ++i) out[static_cast<size_t>(r)][i] = static_cast<int32_t>(i * 3 + static_cast<size_t>(r));
  }
  ASSERT_EQ(mrdGroupStart(), mrdSuccess);
  for (int r = 0; r < n; ++r) {
    // Receives first on every rank: only concurrency makes this finish.
    ASSERT_EQ(mrdRecv(in[static_cast<size_t>(r)].data(), count, mrdInt32, (r + n - 1) % n, comms[r], nullptr), mrdSuccess);
    ASSERT_EQ(mrdSend(out[static_cast<size_t>(r)].data(), count, mrdInt32, (r + 1) % n, comms[r], nullptr), mrdSuccess);
  }
  ASSERT_EQ(mrdGroupEnd(), mrdSuccess) << mrdGetLastError(comms[0]);
  for (int r = 0; r < n; ++r) EXPECT_EQ(in[static_cast<size_t>(r)], out[static_cast<size_t>((r + n - 1) % n)]);
}

TEST(MultiCommGroup, GroupedInitThenStreamAndBlockingMembers) {
  const int n = 2;
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess);
  // Declared before the communicators, so a failing assertion destroys them
  // (waiting for their streams) before the buffers go away.
  std::vector<double> a(1000, 1.5), b(1000, 2.5);
  Comms comms(n);
  ASSERT_EQ(mrdGroupStart(), mrdSuccess);
  for (int r = 0; r < n; ++r) {
    // Returns at once: a blocking init here would wait for rank 1 forever.
    ASSERT_EQ(mrdCommInitRank(comms.data() + r, n, id, r), mrdSuccess) << mrdGetLastError(nullptr);
  }
  ASSERT_EQ(mrdGroupEnd(), mrdSuccess) << mrdGetLastError(nullptr);
  mrdStream_t s = nullptr;
  ASSERT_EQ(mrdStreamCreate(comms[0], &s), mrdSuccess);
  ASSERT_EQ(mrdGroupStart(), mrdSuccess);
  ASSERT_EQ(mrdAllReduce(a.data(), a.data(), a.size(), mrdFloat64, mrdSum, comms[0], s), mrdSuccess);
  ASSERT_EQ(mrdAllReduce(b.data(), b.data(), b.size(), mrdFloat64, mrdSum, comms[1], nullptr), mrdSuccess);
  ASSERT_EQ(mrdGroupEnd(), mrdSuccess);
  // Rank 1 was blocking: done. Rank 0 went to its stream.
  for (double v : b) ASSERT_EQ(v, 4.0);
  ASSERT_EQ(mrdStreamSynchronize(s), mrdSuccess);
  for (double v : a) ASSERT_EQ(v, 4.0);
  EXPECT_EQ(mrdStreamDestroy(s), mrdSuccess);
}

// Two threads, two jobs of two ranks each; each thread holds one rank of
// each job and groups its two allreduces in the opposite order from the
// other thread. Run in group order on each thread this would deadlock.
TEST(MultiCommGroup, OppositeOrderAcrossTwoJobs) {
  mrdUniqueId idA, idB;
  ASSERT_EQ(mrdGetUniqueId(&idA), mrdSuccess);
  ASSERT_EQ(mrdGetUniqueId(&idB), mrdSuccess);
  std::vector<std::thread> th;
  for (int r = 0; r < 2; ++r) {
    th.emplace_back([&, r] {
      mrdComm_t a = nullptr, b = nullptr;
      ASSERT_EQ(mrdGroupStart(), mrdSuccess);
      ASSERT_EQ(mrdCommInitRank(&a, 2, idA, r), mrdSuccess);
      ASSERT_EQ(mrdCommInitRank(&b, 2, idB, r), mrdSuccess);
      ASSERT_EQ(mrdGroupEnd(), mrdSuccess) << mrdGetLastError(nullptr);
      for (int iter = 0; iter < 20; ++iter) {
        int x = r + 1, y = 10 * (r + 1);
        ASSERT_EQ(mrdGroupStart(), mrdSuccess);
        if (r == 0) {
          ASSERT_EQ(mrdAllReduce(&x, &x, 1, mrdInt32, mrdSum, a, nullptr), mrdSuccess);
          ASSERT_EQ(mrdAllReduce(&y, &y, 1, mrdInt32, mrdSum, b, nullptr), mrdSuccess);
        } else {
          ASSERT_EQ(mrdAllReduce(&y, &y, 1, mrdInt32, mrdSum, b, nullptr), mrdSuccess);
          ASSERT_EQ(mrdAllReduce(&x, &x, 1, mrdInt32, mrdSum, a, nullptr), mrdSuccess);
        }
        ASSERT_EQ(mrdGroupEnd(), mrdSuccess);
        ASSERT_EQ(x, 3);
        ASSERT_EQ(y, 30);
      }
      EXPECT_EQ(mrdCommDestroy(a), mrdSuccess);
      EXPECT_EQ(mrdCommDestroy(b), mrdSuccess);
    });
  }
  for (auto& t : th) t.join();
}

TEST(MultiCommGroup, GroupedInitFailureIsReportedAtGroupEnd) {
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess);
  mrdConfig_t cfg = MRD_CONFIG_INITIALIZER;
  cfg.timeoutMs = 300;
  mrdComm_t c = nullptr;
  ASSERT_EQ(mrdGroupStart(), mrdSuccess);
  // Rank 1 of 2 never comes.
  ASSERT_EQ(mrdCommInitRankConfig(&c, 2, id, 0, &cfg), mrdSuccess);
  auto t0 = std::chrono::steady_clock::now();
  mrdResult_t r = mrdGroupEnd();
  EXPECT_TRUE(r == mrdTimeout || r == mrdSystemError || r == mrdRemoteError) << r;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_NE(std::strstr(mrdGetLastError(nullptr), "grouped init"), nullptr) << mrdGetLastError(nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(mrdCommDestroy(c), mrdSuccess);
}

}  // namespace
