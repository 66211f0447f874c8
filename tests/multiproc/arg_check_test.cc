// MRD_CHECK_ARGS=1 (core/arg_check.h): calls that differ between ranks fail
// with mrdInvalidUsage on every rank, naming both sides, and the
// communicator stays usable. Ranks are forked processes: the library reads
// MRD_CHECK_ARGS once per process, from the environment set here.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/arg_check.h"
#include "meridian/meridian.h"
#include "support/thread_ranks.h"

namespace mrdtest {
namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

#define EXPECT_HAS(text, part) EXPECT_TRUE(has(text, part)) << "'" << (part) << "' not in: " << (text)

// A correct allreduce afterwards: nothing of the refused call ran.
void expectStillUsable(int rank, mrdComm_t comm, int nranks) {
  std::vector<float> v(300, static_cast<float>(rank + 1));
  ASSERT_EQ(mrdAllReduce(v.data(), v.data(), v.size(), mrdFloat32, mrdSum, comm, nullptr), mrdSuccess)
      << mrdGetLastError(comm);
  for (float x : v) ASSERT_EQ(x, static_cast<float>(nranks * (nranks + 1) / 2));
}

TEST(CheckArgs, MatchingCallsRunAndGiveTheRightResult) {
  ScopedEnv check("MRD_CHECK_ARGS", "1");
  forkRanks(3, [](int rank, mrdComm_t comm) {
    expectStillUsable(rank, comm, 3);
    std::vector<int32_t> b(1000, rank == 1 ? 7 : 0);
    ASSERT_EQ(mrdBroadcast(b.data(), b.data(), b.size(), mrdInt32, 1, comm, nullptr), mrdSuccess)
        << mrdGetLastError(comm);
    for (int32_t x : b) ASSERT_EQ(x, 7);
  });
}

// NCCL lets each rank scale by its own factor: not a difference.
TEST(CheckArgs, PreMulSumFactorsMayDifferBetweenRanks) {
  ScopedEnv check("MRD_CHECK_ARGS", "1");
  forkRanks(3, [](int rank, mrdComm_t comm) {
    float factor = static_cast<float>(rank + 1);
    mrdRedOp_t op;
    ASSERT_EQ(mrdRedOpCreatePreMulSum(&op, &factor, mrdFloat32, mrdScalarHostImmediate, comm), mrdSuccess)
        << mrdGetLastError(comm);
    std::vector<float> v(1000, 1.0f);
    ASSERT_EQ(mrdAllReduce(v.data(), v.data(), v.size(), mrdFloat32, op, comm, nullptr), mrdSuccess)
        << mrdGetLastError(comm);
    for (float x : v) ASSERT_EQ(x, 6.0f);  // 1 + 2 + 3
    EXPECT_EQ(mrdRedOpDestroy(op, comm), mrdSuccess);
  });
}

TEST(CheckArgs, ACountThatDiffersFailsOnEveryRankNamingBothSides) {
  ScopedEnv check("MRD_CHECK_ARGS", "1");
  forkRanks(3, [](int rank, mrdComm_t comm) {
    const size_t n = rank == 2 ? 512 : 1024;
    std::vector<float> v(1024, 1.0f);
    EXPECT_EQ(mrdAllReduce(v.data(), v.data(), n, mrdFloat32, mrdSum, comm, nullptr), mrdInvalidUsage);
    const std::string err = mrdGetLastError(comm);
    EXPECT_HAS(err, "rank " + std::to_string(rank) + ": MRD_CHECK_ARGS: this rank called allreduce of " +
                        std::to_string(n) + " float (sum)");
    if (rank == 2) {
      EXPECT_HAS(err, "where rank 0 called allreduce of 1024 float (sum)");
    } else {
      EXPECT_HAS(err, "where rank 2 called allreduce of 512 float (sum)");
    }
    for (float x : v) ASSERT_EQ(x, 1.0f);  // untouched
    expectStillUsable(rank, comm, 3);
  });
}

TEST(CheckArgs, RootOpDatatypeAndCollectiveDifferencesAreCaught) {
  ScopedEnv check("MRD_CHECK_ARGS", "1");
  forkRanks(4, [](int rank, mrdComm_t comm) {
    std::vector<double> v(4096, 1.0);
    // Root.
    EXPECT_EQ(mrdBroadcast(v.data(), v.data(), 100, mrdFloat64, rank == 3 ? 1 : 0, comm, nullptr), mrdInvalidUsage);
    EXPECT_HAS(std::string(mrdGetLastError(comm)), rank == 3 ? "where rank 0 called broadcast of 100 double (root 0)"
                                                              : "where rank 3 called broadcast of 100 double (root 1)");
    // Op.
    EXPECT_EQ(mrdAllReduce(v.data(), v.data(), 10, mrdFloat64, rank == 1 ? mrdMax : mrdSum, comm, nullptr),
              mrdInvalidUsage);
    EXPECT_HAS(std::string(mrdGetLastError(comm)), rank == 1 ? "where rank 0 called allreduce of 10 double (sum)"
                                                              : "where rank 1 called allreduce of 10 double (max)");
    // Datatype (same bytes).
    EXPECT_EQ(mrdAllReduce(v.data(), v.data(), 10, rank == 0 ? mrdInt64 : mrdFloat64, mrdSum, comm, nullptr),
              mrdInvalidUsage);
    EXPECT_HAS(std::string(mrdGetLastError(comm)), "allreduce of 10 int64 (sum)");
    // The collective itself.
    if (rank == 2) {
      EXPECT_EQ(mrdAllGather(v.data(), v.data() + 1000, 10, mrdFloat64, comm, nullptr), mrdInvalidUsage);
    } else {
      EXPECT_EQ(mrdAllReduce(v.data(), v.data(), 10, mrdFloat64, mrdSum, comm, nullptr), mrdInvalidUsage);
    }
    EXPECT_HAS(std::string(mrdGetLastError(comm)), rank == 2 ? "this rank called allgather of 10 double where rank 0"
                                                              : "where rank 2 called allgather of 10 double");
    expectStillUsable(rank, comm, 4);
  });
}

TEST(CheckArgs, AGroupThatDiffersInItsSecondCollectiveIsCaught) {
  ScopedEnv check("MRD_CHECK_ARGS", "1");
  forkRanks(2, [](int rank, mrdComm_t comm) {
    std::vector<float> a(64, 1.0f), b(64, 1.0f);
    ASSERT_EQ(mrdGroupStart(), mrdSuccess);
    mrdAllReduce(a.data(), a.data(), 64, mrdFloat32, mrdSum, comm, nullptr);
    mrdAllReduce(b.data(), b.data(), rank == 0 ? 64 : 32, mrdFloat32, mrdSum, comm, nullptr);
    EXPECT_EQ(mrdGroupEnd(), mrdInvalidUsage);
    const std::string err = mrdGetLastError(comm);
    EXPECT_HAS(err, "MRD_CHECK_ARGS: this rank called a group of 2 collectives: allreduce of 64 float (sum), allreduce of " +
                        std::string(rank == 0 ? "64" : "32"));
    expectStillUsable(rank, comm, 2);
  });
}

// The signature's own rules, without ranks.
TEST(CallSignature, TheHashCatchesADifferenceBeyondTheCollectivesShown) {
  std::vector<mrd::CollRequest> mine(5), theirs(5);
  for (auto* v : {&mine, &theirs}) {
    for (auto& r : *v) {
      r.kind = mrd::CollKind::kAllReduce;
      r.count = 8;
      r.type = mrdFloat32;
    }
  }
  theirs[4].count = 9;
  mrd::CallSignature a, b;
  mrd::signatureOf(mine.data(), mine.size(), &a);
  mrd::signatureOf(theirs.data(), theirs.size(), &b);
  const std::string d = mrd::compareSignatures(a, b, 1);
  EXPECT_HAS(d, "they differ beyond the first 3 collectives of the group");
  mrd::signatureOf(theirs.data(), theirs.size(), &a);
  EXPECT_EQ(mrd::compareSignatures(a, b, 1), "");
  // Sends and receives are not compared, nor is a barrier's count.
  mrd::CollRequest send;
  send.kind = mrd::CollKind::kSend;
  EXPECT_FALSE(mrd::callIsChecked(&send, 1));
  mrd::CollRequest bar1, bar2;
  bar1.kind = bar2.kind = mrd::CollKind::kBarrier;
  bar2.count = 77;
  mrd::signatureOf(&bar1, 1, &a);
  mrd::signatureOf(&bar2, 1, &b);
  EXPECT_EQ(mrd::compareSignatures(a, b, 1), "");
}

}  // namespace
}  // namespace mrdtest
