// Bad input to the public API: the documented result code, a message from
// mrdGetLastError that this very call set, and never a crash or a hang.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "meridian/meridian.h"
#include "support/thread_ranks.h"

namespace mrdtest {
namespace {

// Makes the last-error message of comm (or of this thread when comm is
// NULL) something known, so a test can see that the next call replaced it.
// Two different primers, in case the call under test fails like the first.
std::string primeLastError(mrdComm_t comm, int which) {
  if (comm != nullptr) {
    if (which == 0) {
      mrdCommCount(comm, nullptr);
    } else {
      mrdCommUserRank(comm, nullptr);
    }
  } else {
    if (which == 0) {
      mrdGetVersion(nullptr);
    } else {
      mrdStreamQuery(nullptr);
    }
  }
  const char* m = mrdGetLastError(comm);
  return m != nullptr ? m : "";
}

// Checks a call's result against want and that it left a new message.
void checkFailure(const char* text, mrdResult_t rc, mrdResult_t want, mrdComm_t comm,
                  const std::string& primed) {
  const char* msg = mrdGetLastError(comm);
  EXPECT_EQ(rc, want) << text << " -> " << mrdGetErrorString(rc) << ": "
                      << (msg != nullptr ? msg : "(null)");
  EXPECT_TRUE(msg != nullptr && *msg != '\0') << text << ": empty mrdGetLastError";
  if (msg != nullptr) {
    EXPECT_NE(primed, msg) << text << ": mrdGetLastError not updated";
  }
}

// Expects `call` to return `want` and to leave a new, non-empty message
// (the call runs a second time after the other primer if its message
// happens to equal the first primer's).
#define EXPECT_FAILS_WITH(want, comm, call)            \
  do {                                                 \
    std::string primed_ = primeLastError(comm, 0);     \
    mrdResult_t rc_ = (call);                          \
    const char* msg_ = mrdGetLastError(comm);          \
    if (msg_ != nullptr && primed_ == msg_) {          \
      primed_ = primeLastError(comm, 1);               \
      rc_ = (call);                                    \
    }                                                  \
    checkFailure(#call, rc_, (want), (comm), primed_); \
  } while (0)

#define EXPECT_OK(comm, call) \
  EXPECT_EQ((call), mrdSuccess) << #call << ": " << mrdGetLastError(comm)

// Unknown, yet a value the enum can hold (0-15 for enumerators 0-12): 99
// in an mrdDataType_t is undefined behaviour in the test itself (UBSan).
constexpr mrdDataType_t kBadType = static_cast<mrdDataType_t>(15);
constexpr mrdRedOp_t kBadOp = static_cast<mrdRedOp_t>(99);

// ---- NULL communicator ----

TEST(ArgsTest, NullCommIsInvalidArgument) {
  const mrdComm_t c = nullptr;
  float buf[8] = {0};
  size_t counts[1] = {1}, displs[1] = {0};
  mrdRedOp_t op = mrdSum;
  float scalar = 2.0f;
  int value = 0;
  mrdResult_t async = mrdSuccess;
  mrdComm_t child = nullptr;
  mrdStream_t stream = nullptr;
  const mrdResult_t kInv = mrdInvalidArgument;
  EXPECT_FAILS_WITH(kInv, c, mrdAllReduce(buf, buf, 1, mrdFloat32, mrdSum, c, nullptr));
  EXPECT_FAILS_WITH(kInv, c, mrdBroadcast(buf, buf, 1, mrdFloat32, 0, c, nullptr));
  EXPECT_FAILS_WITH(kInv, c, mrdReduce(buf, buf, 1, mrdFloat32, mrdSum, 0, c, nullptr));
  EXPECT_FAILS_WITH(kInv, c, mrdAllGather(buf, buf, 1, mrdFloat32, c, nullptr));
  EXPECT_FAILS_WITH(kInv, c, mrdReduceScatter(buf, buf, 1, mrdFloat32, mrdSum, c, nullptr));
  EXPECT_FAILS_WITH(kInv, c, mrdAlltoAll(buf, buf, 1, mrdFloat32, c, nullptr));
  EXPECT_FAILS_WITH(kInv, c,
                    mrdAlltoAllv(buf, counts, displs, buf, counts, displs, mrdFloat32, c, nullptr));
  EXPECT_FAILS_WITH(kInv, c, mrdGather(buf, buf, 1, mrdFloat32, 0, c, nullptr));
  EXPECT_FAILS_WITH(kInv, c, mrdScatter(buf, buf, 1, mrdFloat32, 0, c, nullptr));
  EXPECT_FAILS_WITH(kInv, c, mrdSend(buf, 1, mrdFloat32, 0, c, nullptr));
  EXPECT_FAILS_WITH(kInv, c, mrdRecv(buf, 1, mrdFloat32, 0, c, nullptr));
  EXPECT_FAILS_WITH(kInv, c, mrdBarrier(c, nullptr));
  EXPECT_FAILS_WITH(kInv, c, mrdCommCount(c, &value));
  EXPECT_FAILS_WITH(kInv, c, mrdCommUserRank(c, &value));
  EXPECT_FAILS_WITH(kInv, c, mrdCommGetAsyncError(c, &async));
  EXPECT_FAILS_WITH(kInv, c, mrdCommSplit(c, 0, 0, &child, nullptr));
  EXPECT_FAILS_WITH(kInv, c, mrdCommFinalize(c));
  EXPECT_FAILS_WITH(kInv, c, mrdCommDestroy(c));
  EXPECT_FAILS_WITH(kInv, c, mrdCommAbort(c));
  EXPECT_FAILS_WITH(kInv, c, mrdStreamCreate(c, &stream));
  EXPECT_FAILS_WITH(kInv, c,
                    mrdRedOpCreatePreMulSum(&op, &scalar, mrdFloat32, mrdScalarHostImmediate, c));
  EXPECT_FAILS_WITH(kInv, c, mrdRedOpDestroy(static_cast<mrdRedOp_t>(mrdNumOps), c));
  // An operation with a NULL comm inside a group fails at the call.
  EXPECT_EQ(mrdGroupStart(), mrdSuccess);
  EXPECT_FAILS_WITH(kInv, c, mrdAllReduce(buf, buf, 1, mrdFloat32, mrdSum, c, nullptr));
  EXPECT_EQ(mrdGroupEnd(), mrdSuccess) << mrdGetLastError(nullptr);
}

TEST(ArgsTest, NullOutputPointersAreInvalidArgument) {
  EXPECT_FAILS_WITH(mrdInvalidArgument, nullptr, mrdGetVersion(nullptr));
  EXPECT_FAILS_WITH(mrdInvalidArgument, nullptr, mrdGetUniqueId(nullptr));
  EXPECT_FAILS_WITH(mrdInvalidArgument, nullptr, mrdStreamSynchronize(nullptr));
  EXPECT_FAILS_WITH(mrdInvalidArgument, nullptr, mrdStreamQuery(nullptr));
  EXPECT_FAILS_WITH(mrdInvalidArgument, nullptr, mrdStreamDestroy(nullptr));
  spawnRanks(1, [](int, mrdComm_t comm) {
    EXPECT_FAILS_WITH(mrdInvalidArgument, comm, mrdCommUserRank(comm, nullptr));
    EXPECT_FAILS_WITH(mrdInvalidArgument, comm, mrdCommGetAsyncError(comm, nullptr));
    EXPECT_FAILS_WITH(mrdInvalidArgument, comm, mrdStreamCreate(comm, nullptr));
    EXPECT_FAILS_WITH(mrdInvalidArgument, comm, mrdCommSplit(comm, 0, 0, nullptr, nullptr));
  });
}

// ---- Buffers ----

// NULL where count > 0 elements are needed; every root-dependent buffer is
// tried at the root. Two ranks (both make the same failing calls).
TEST(ArgsTest, NullBufferWithCountIsInvalidArgument) {
  spawnRanks(2, [](int rank, mrdComm_t comm) {
    std::vector<float> b(64, 1.0f);
    float* p = b.data();
    const mrdResult_t kInv = mrdInvalidArgument;
    const size_t n = 4;
    EXPECT_FAILS_WITH(kInv, comm, mrdAllReduce(nullptr, p, n, mrdFloat32, mrdSum, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdAllReduce(p, nullptr, n, mrdFloat32, mrdSum, comm, nullptr));
    // Broadcast: the root needs sendbuff, everyone needs recvbuff.
    EXPECT_FAILS_WITH(kInv, comm, mrdBroadcast(nullptr, p, n, mrdFloat32, rank, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdBroadcast(p, nullptr, n, mrdFloat32, rank, comm, nullptr));
    // Reduce: everyone needs sendbuff, the root needs recvbuff.
    EXPECT_FAILS_WITH(kInv, comm,
                      mrdReduce(nullptr, p, n, mrdFloat32, mrdSum, 1 - rank, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm,
                      mrdReduce(p, nullptr, n, mrdFloat32, mrdSum, rank, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdAllGather(nullptr, p, n, mrdFloat32, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdAllGather(p, nullptr, n, mrdFloat32, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm,
                      mrdReduceScatter(nullptr, p, n, mrdFloat32, mrdSum, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm,
                      mrdReduceScatter(p, nullptr, n, mrdFloat32, mrdSum, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdAlltoAll(nullptr, p, n, mrdFloat32, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdAlltoAll(p, nullptr, n, mrdFloat32, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdGather(nullptr, p, n, mrdFloat32, 1 - rank, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdGather(p, nullptr, n, mrdFloat32, rank, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdScatter(nullptr, p, n, mrdFloat32, rank, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdScatter(p, nullptr, n, mrdFloat32, 1 - rank, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdSend(nullptr, n, mrdFloat32, 1 - rank, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdRecv(nullptr, n, mrdFloat32, 1 - rank, comm, nullptr));
    // AlltoAllv: NULL arrays, and NULL buffers where some count is > 0.
    size_t counts[2] = {0, 3}, displs[2] = {0, 0};
    EXPECT_FAILS_WITH(
        kInv, comm, mrdAlltoAllv(p, nullptr, displs, p, counts, displs, mrdFloat32, comm, nullptr));
    EXPECT_FAILS_WITH(
        kInv, comm, mrdAlltoAllv(p, counts, nullptr, p, counts, displs, mrdFloat32, comm, nullptr));
    EXPECT_FAILS_WITH(
        kInv, comm, mrdAlltoAllv(p, counts, displs, p, nullptr, displs, mrdFloat32, comm, nullptr));
    EXPECT_FAILS_WITH(
        kInv, comm, mrdAlltoAllv(p, counts, displs, p, counts, nullptr, mrdFloat32, comm, nullptr));
    EXPECT_FAILS_WITH(
        kInv, comm,
        mrdAlltoAllv(nullptr, counts, displs, p, counts, displs, mrdFloat32, comm, nullptr));
    EXPECT_FAILS_WITH(
        kInv, comm,
        mrdAlltoAllv(p, counts, displs, nullptr, counts, displs, mrdFloat32, comm, nullptr));
    // The communicator still works afterwards.
    float x = 1.0f;
    EXPECT_OK(comm, mrdAllReduce(&x, &x, 1, mrdFloat32, mrdSum, comm, nullptr));
    EXPECT_EQ(x, 2.0f);
  });
}

// Count 0 with NULL buffers is a successful no-op, on every rank.
TEST(ArgsTest, ZeroCountWithNullBuffersSucceeds) {
  spawnRanks(3, [](int rank, mrdComm_t comm) {
    const int peerNext = (rank + 1) % 3, peerPrev = (rank + 2) % 3;
    EXPECT_OK(comm, mrdAllReduce(nullptr, nullptr, 0, mrdFloat32, mrdSum, comm, nullptr));
    EXPECT_OK(comm, mrdBroadcast(nullptr, nullptr, 0, mrdInt8, 1, comm, nullptr));
    EXPECT_OK(comm, mrdReduce(nullptr, nullptr, 0, mrdFloat64, mrdMax, 2, comm, nullptr));
    EXPECT_OK(comm, mrdAllGather(nullptr, nullptr, 0, mrdUint32, comm, nullptr));
    EXPECT_OK(comm, mrdReduceScatter(nullptr, nullptr, 0, mrdBfloat16, mrdAvg, comm, nullptr));
    EXPECT_OK(comm, mrdAlltoAll(nullptr, nullptr, 0, mrdInt64, comm, nullptr));
    size_t zeros[3] = {0, 0, 0};
    EXPECT_OK(comm, mrdAlltoAllv(nullptr, zeros, zeros, nullptr, zeros, zeros, mrdFloat16, comm,
                                 nullptr));
    EXPECT_OK(comm, mrdGather(nullptr, nullptr, 0, mrdFloat8e4m3, 0, comm, nullptr));
    EXPECT_OK(comm, mrdScatter(nullptr, nullptr, 0, mrdFloat8e5m2, 2, comm, nullptr));
    EXPECT_EQ(mrdGroupStart(), mrdSuccess);
    EXPECT_OK(comm, mrdSend(nullptr, 0, mrdFloat32, peerNext, comm, nullptr));
    EXPECT_OK(comm, mrdRecv(nullptr, 0, mrdFloat32, peerPrev, comm, nullptr));
    EXPECT_OK(comm, mrdGroupEnd());
    // Still in step: a real operation works.
    int32_t v = 1;
    EXPECT_OK(comm, mrdAllReduce(&v, &v, 1, mrdInt32, mrdSum, comm, nullptr));
    EXPECT_EQ(v, 3);
  });
}

// SIZE_MAX / 2 float elements overflow size_t bytes.
TEST(ArgsTest, ByteSizeOverflowIsInvalidArgument) {
  spawnRanks(2, [](int rank, mrdComm_t comm) {
    std::vector<float> b(64, 1.0f);
    float* p = b.data();
    const size_t huge = SIZE_MAX / 2;
    const mrdResult_t kInv = mrdInvalidArgument;
    EXPECT_FAILS_WITH(kInv, comm, mrdAllReduce(p, p, huge, mrdFloat32, mrdSum, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdBroadcast(p, p, huge, mrdFloat32, 0, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdReduce(p, p, huge, mrdFloat32, mrdSum, 0, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdAllGather(p, p, huge, mrdFloat32, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdReduceScatter(p, p, huge, mrdFloat32, mrdSum, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdAlltoAll(p, p, huge, mrdFloat32, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdGather(p, p, huge, mrdFloat32, 0, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdScatter(p, p, huge, mrdFloat32, 0, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdSend(p, huge, mrdFloat32, 1 - rank, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm, mrdRecv(p, huge, mrdFloat32, 1 - rank, comm, nullptr));
    // Per-rank counts and counts + displacements that overflow.
    size_t hugeCounts[2] = {huge, huge}, displs[2] = {0, 0};
    size_t ones[2] = {1, 1}, maxDispl[2] = {SIZE_MAX, SIZE_MAX};
    EXPECT_FAILS_WITH(
        kInv, comm,
        mrdAlltoAllv(p, hugeCounts, displs, p, ones, displs, mrdFloat32, comm, nullptr));
    EXPECT_FAILS_WITH(kInv, comm,
                      mrdAlltoAllv(p, ones, maxDispl, p, ones, displs, mrdFloat32, comm, nullptr));
    // int64: SIZE_MAX / 4 elements overflow too.
    EXPECT_FAILS_WITH(kInv, comm,
                      mrdAllReduce(p, p, SIZE_MAX / 4, mrdInt64, mrdSum, comm, nullptr));
    // The buffers were not touched.
    for (float x : b) ASSERT_EQ(x, 1.0f);
  });
}

// ---- Datatype, op, root, peer ----

TEST(ArgsTest, UnknownDatatypeIsInvalidArgument) {
  spawnRanks(2, [](int, mrdComm_t comm) {
    std::vector<double> b(64, 1.0);
    double* p = b.data();
    const mrdResult_t kInv = mrdInvalidArgument;
    for (mrdDataType_t t : {kBadType, mrdNumTypes}) {
      SCOPED_TRACE("datatype " + std::to_string(static_cast<int>(t)));
      EXPECT_FAILS_WITH(kInv, comm, mrdAllReduce(p, p, 1, t, mrdSum, comm, nullptr));
      EXPECT_FAILS_WITH(kInv, comm, mrdBroadcast(p, p, 1, t, 0, comm, nullptr));
      EXPECT_FAILS_WITH(kInv, comm, mrdReduce(p, p, 1, t, mrdSum, 0, comm, nullptr));
      EXPECT_FAILS_WITH(kInv, comm, mrdAllGather(p, p, 1, t, comm, nullptr));
      EXPECT_FAILS_WITH(kInv, comm, mrdReduceScatter(p, p, 1, t, mrdSum, comm, nullptr));
      EXPECT_FAILS_WITH(kInv, comm, mrdAlltoAll(p, p, 1, t, comm, nullptr));
      size_t counts[2] = {1, 1}, displs[2] = {0, 1};
      EXPECT_FAILS_WITH(kInv, comm,
                        mrdAlltoAllv(p, counts, displs, p, counts, displs, t, comm, nullptr));
      EXPECT_FAILS_WITH(kInv, comm, mrdGather(p, p, 1, t, 0, comm, nullptr));
      EXPECT_FAILS_WITH(kInv, comm, mrdScatter(p, p, 1, t, 0, comm, nullptr));
      EXPECT_FAILS_WITH(kInv, comm, mrdSend(p, 1, t, 0, comm, nullptr));
      EXPECT_FAILS_WITH(kInv, comm, mrdRecv(p, 1, t, 0, comm, nullptr));
      mrdRedOp_t op = mrdSum;
      EXPECT_FAILS_WITH(kInv, comm,
                        mrdRedOpCreatePreMulSum(&op, p, t, mrdScalarHostImmediate, comm));
    }
  });
}

TEST(ArgsTest, UnknownOpIsInvalidArgument) {
  spawnRanks(2, [](int, mrdComm_t comm) {
    std::vector<float> b(64, 1.0f);
    float* p = b.data();
    const mrdResult_t kInv = mrdInvalidArgument;
    // A PreMulSum op that was destroyed is unknown too.
    mrdRedOp_t dead = mrdSum;
    float scalar = 2.0f;
    ASSERT_EQ(mrdRedOpCreatePreMulSum(&dead, &scalar, mrdFloat32, mrdScalarHostImmediate, comm),
              mrdSuccess)
        << mrdGetLastError(comm);
    ASSERT_EQ(mrdRedOpDestroy(dead, comm), mrdSuccess) << mrdGetLastError(comm);
    const mrdRedOp_t bad[] = {kBadOp, static_cast<mrdRedOp_t>(mrdNumOps), dead};
    for (mrdRedOp_t op : bad) {
      SCOPED_TRACE("op " + std::to_string(static_cast<int>(op)));
      EXPECT_FAILS_WITH(kInv, comm, mrdAllReduce(p, p, 1, mrdFloat32, op, comm, nullptr));
      EXPECT_FAILS_WITH(kInv, comm, mrdReduce(p, p, 1, mrdFloat32, op, 0, comm, nullptr));
      EXPECT_FAILS_WITH(kInv, comm, mrdReduceScatter(p, p, 1, mrdFloat32, op, comm, nullptr));
    }
  });
}

TEST(ArgsTest, RootOrPeerOutOfRangeIsInvalidArgument) {
  for (int n : {1, 3}) {
    SCOPED_TRACE("nranks " + std::to_string(n));
    spawnRanks(n, [n](int, mrdComm_t comm) {
      std::vector<int32_t> b(64, 7);
      int32_t* p = b.data();
      const mrdResult_t kInv = mrdInvalidArgument;
      for (int bad : {-1, n, n + 5}) {
        SCOPED_TRACE("root/peer " + std::to_string(bad));
        EXPECT_FAILS_WITH(kInv, comm, mrdBroadcast(p, p, 4, mrdInt32, bad, comm, nullptr));
        EXPECT_FAILS_WITH(kInv, comm, mrdReduce(p, p, 4, mrdInt32, mrdSum, bad, comm, nullptr));
        EXPECT_FAILS_WITH(kInv, comm, mrdGather(p, p, 4, mrdInt32, bad, comm, nullptr));
        EXPECT_FAILS_WITH(kInv, comm, mrdScatter(p, p, 4, mrdInt32, bad, comm, nullptr));
        EXPECT_FAILS_WITH(kInv, comm, mrdSend(p, 4, mrdInt32, bad, comm, nullptr));
        EXPECT_FAILS_WITH(kInv, comm, mrdRecv(p, 4, mrdInt32, bad, comm, nullptr));
      }
      for (int32_t x : b) ASSERT_EQ(x, 7);
    });
  }
}

// ---- Init ----

TEST(InitArgsTest, BadRankOrSizeIsInvalidArgument) {
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess) << mrdGetLastError(nullptr);
  const mrdResult_t kInv = mrdInvalidArgument;
  mrdComm_t comm = nullptr;
  mrdConfig_t cfg = testConfig(5000);
  const long long t0 = nowMs();
  EXPECT_FAILS_WITH(kInv, nullptr, mrdCommInitRank(&comm, 0, id, 0));
  EXPECT_FAILS_WITH(kInv, nullptr, mrdCommInitRank(&comm, -3, id, 0));
  EXPECT_FAILS_WITH(kInv, nullptr, mrdCommInitRank(&comm, 2, id, -1));
  EXPECT_FAILS_WITH(kInv, nullptr, mrdCommInitRank(&comm, 2, id, 2));
  EXPECT_FAILS_WITH(kInv, nullptr, mrdCommInitRank(&comm, 2, id, 7));
  EXPECT_FAILS_WITH(kInv, nullptr, mrdCommInitRank(nullptr, 1, id, 0));
  EXPECT_FAILS_WITH(kInv, nullptr, mrdCommInitRankConfig(&comm, 0, id, 0, &cfg));
  EXPECT_FAILS_WITH(kInv, nullptr, mrdCommInitRankConfig(&comm, 2, id, 2, &cfg));
  EXPECT_FAILS_WITH(kInv, nullptr, mrdCommInitRankConfig(nullptr, 1, id, 0, &cfg));
  EXPECT_EQ(comm, nullptr);
  EXPECT_LT(nowMs() - t0, 2000) << "argument checks must not wait";
}

TEST(InitArgsTest, ConfigWithWrongMagicIsInvalidArgument) {
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess) << mrdGetLastError(nullptr);
  mrdComm_t comm = nullptr;
  mrdConfig_t cfg = testConfig(5000);
  cfg.magic = 0x12345678u;
  const long long t0 = nowMs();
  EXPECT_FAILS_WITH(mrdInvalidArgument, nullptr, mrdCommInitRankConfig(&comm, 1, id, 0, &cfg));
  // A config not made with MRD_CONFIG_INITIALIZER at all.
  mrdConfig_t zero;
  std::memset(&zero, 0, sizeof zero);
  EXPECT_FAILS_WITH(mrdInvalidArgument, nullptr, mrdCommInitRankConfig(&comm, 1, id, 0, &zero));
  EXPECT_EQ(comm, nullptr);
  EXPECT_LT(nowMs() - t0, 2000) << "argument checks must not wait";
  // The same id still works with a good config afterwards.
  mrdConfig_t good = testConfig(5000);
  ASSERT_EQ(mrdCommInitRankConfig(&comm, 1, id, 0, &good), mrdSuccess) << mrdGetLastError(nullptr);
  EXPECT_EQ(mrdCommDestroy(comm), mrdSuccess);
}

// Two ranks of one id disagree about nranks, or claim the same rank: each
// call returns an error (mrdInvalidUsage) within a few seconds.
void expectMismatchedInitFails(int nranksA, int rankA, int nranksB, int rankB) {
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess) << mrdGetLastError(nullptr);
  const int nr[2] = {nranksA, nranksB}, rk[2] = {rankA, rankB};
  runThreads(
      2,
      [&](int i) {
        mrdConfig_t cfg = testConfig(20000);
        mrdComm_t comm = nullptr;
        const long long t0 = nowMs();
        mrdResult_t rc = mrdCommInitRankConfig(&comm, nr[i], id, rk[i], &cfg);
        const long long took = nowMs() - t0;
        const char* msg = mrdGetLastError(nullptr);
        EXPECT_NE(rc, mrdSuccess) << "thread " << i << " (nranks " << nr[i] << ", rank " << rk[i]
                                  << ") joined a mismatched communicator";
        EXPECT_EQ(rc, mrdInvalidUsage)
            << "thread " << i << ": " << mrdGetErrorString(rc) << ": " << msg;
        EXPECT_TRUE(msg != nullptr && *msg != '\0') << "thread " << i;
        EXPECT_LT(took, 8000) << "thread " << i << " needed " << took << " ms to fail";
        if (rc == mrdSuccess && comm != nullptr) mrdCommAbort(comm);
      },
      60000);
}

TEST(InitArgsTest, MismatchedNranksFails) { expectMismatchedInitFails(2, 0, 3, 1); }

TEST(InitArgsTest, SameRankTwiceFails) { expectMismatchedInitFails(2, 0, 2, 0); }

// ---- Lifecycle misuse ----

TEST(LifecycleArgsTest, DestroyAndAbortOfNullAreInvalidArgument) {
  EXPECT_FAILS_WITH(mrdInvalidArgument, nullptr, mrdCommDestroy(nullptr));
  EXPECT_FAILS_WITH(mrdInvalidArgument, nullptr, mrdCommAbort(nullptr));
}

TEST(LifecycleArgsTest, OperationsAfterFinalizeAreInvalidUsage) {
  spawnRanks(2, [](int rank, mrdComm_t comm) {
    ASSERT_EQ(mrdCommFinalize(comm), mrdSuccess) << mrdGetLastError(comm);
    std::vector<float> b(16, 1.0f);
    float* p = b.data();
    const mrdResult_t kUse = mrdInvalidUsage;
    EXPECT_FAILS_WITH(kUse, comm, mrdAllReduce(p, p, 4, mrdFloat32, mrdSum, comm, nullptr));
    EXPECT_FAILS_WITH(kUse, comm, mrdBroadcast(p, p, 4, mrdFloat32, 0, comm, nullptr));
    EXPECT_FAILS_WITH(kUse, comm, mrdAllGather(p, p, 2, mrdFloat32, comm, nullptr));
    EXPECT_FAILS_WITH(kUse, comm, mrdSend(p, 4, mrdFloat32, 1 - rank, comm, nullptr));
    EXPECT_FAILS_WITH(kUse, comm, mrdBarrier(comm, nullptr));
    mrdStream_t stream = nullptr;
    EXPECT_FAILS_WITH(kUse, comm, mrdStreamCreate(comm, &stream));
    mrdComm_t child = nullptr;
    EXPECT_FAILS_WITH(kUse, comm, mrdCommSplit(comm, 0, 0, &child, nullptr));
    EXPECT_EQ(child, nullptr);
    // Queries still answer.
    int count = 0;
    EXPECT_OK(comm, mrdCommCount(comm, &count));
    EXPECT_EQ(count, 2);
    for (float x : b) ASSERT_EQ(x, 1.0f);
    // The spawner's mrdCommDestroy must succeed after finalize.
  });
}

TEST(GroupArgsTest, GroupEndWithoutStartIsInvalidUsage) {
  EXPECT_FAILS_WITH(mrdInvalidUsage, nullptr, mrdGroupEnd());
  // Nested empty groups are fine, and one End too many fails again.
  EXPECT_EQ(mrdGroupStart(), mrdSuccess);
  EXPECT_EQ(mrdGroupStart(), mrdSuccess);
  EXPECT_EQ(mrdGroupEnd(), mrdSuccess) << mrdGetLastError(nullptr);
  EXPECT_EQ(mrdGroupEnd(), mrdSuccess) << mrdGetLastError(nullptr);
  EXPECT_FAILS_WITH(mrdInvalidUsage, nullptr, mrdGroupEnd());
}

TEST(RedOpArgsTest, DestroyingBuiltinOrDeadOpIsInvalidArgument) {
  spawnRanks(1, [](int, mrdComm_t comm) {
    for (mrdRedOp_t op : {mrdSum, mrdProd, mrdMax, mrdMin, mrdAvg}) {
      SCOPED_TRACE("op " + std::to_string(static_cast<int>(op)));
      EXPECT_FAILS_WITH(mrdInvalidArgument, comm, mrdRedOpDestroy(op, comm));
    }
    mrdRedOp_t op = mrdSum;
    double scalar = 0.25;
    ASSERT_EQ(mrdRedOpCreatePreMulSum(&op, &scalar, mrdFloat64, mrdScalarHostImmediate, comm),
              mrdSuccess)
        << mrdGetLastError(comm);
    EXPECT_GE(static_cast<int>(op), static_cast<int>(mrdNumOps));
    EXPECT_OK(comm, mrdRedOpDestroy(op, comm));
    EXPECT_FAILS_WITH(mrdInvalidArgument, comm, mrdRedOpDestroy(op, comm));
    // Bad creation arguments.
    EXPECT_FAILS_WITH(
        mrdInvalidArgument, comm,
        mrdRedOpCreatePreMulSum(nullptr, &scalar, mrdFloat64, mrdScalarHostImmediate, comm));
    EXPECT_FAILS_WITH(
        mrdInvalidArgument, comm,
        mrdRedOpCreatePreMulSum(&op, nullptr, mrdFloat64, mrdScalarHostImmediate, comm));
    EXPECT_FAILS_WITH(mrdInvalidArgument, comm,
                      mrdRedOpCreatePreMulSum(&op, &scalar, mrdFloat64,
                                              static_cast<mrdScalarResidence_t>(0), comm));
  });
}

}  // namespace
}  // namespace mrdtest
