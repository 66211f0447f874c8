// The rest of the public API with threads as ranks: communicator split,
// grouped point-to-point, asynchronous streams, version and error strings,
// the config struct, finalize, timeouts and abort.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "meridian/meridian.h"
#include "support/thread_ranks.h"

namespace mrdtest {
namespace {

using std::chrono::milliseconds;

// ---- Version and error strings ----

TEST(VersionTest, ReportsHeaderVersion) {
  int v = -1;
  ASSERT_EQ(mrdGetVersion(&v), mrdSuccess);
  EXPECT_EQ(v, MRD_VERSION_CODE);
  EXPECT_EQ(v, MRD_MAJOR * 10000 + MRD_MINOR * 100 + MRD_PATCH);
}

TEST(ErrorStringTest, EveryCodeHasADistinctMessage) {
  std::set<std::string> seen;
  for (int c = mrdSuccess; c < mrdNumResults; ++c) {
    const char* s = mrdGetErrorString(static_cast<mrdResult_t>(c));
    ASSERT_NE(s, nullptr) << "code " << c;
    EXPECT_GT(std::strlen(s), 0u) << "code " << c;
    EXPECT_TRUE(seen.insert(s).second) << "code " << c << " repeats \"" << s << "\"";
  }
  for (int c : {static_cast<int>(mrdNumResults), 99, -1}) {
    const char* s = mrdGetErrorString(static_cast<mrdResult_t>(c));
    ASSERT_NE(s, nullptr) << "code " << c;
    EXPECT_GT(std::strlen(s), 0u) << "code " << c;
  }
}

// ---- Communicator basics ----

TEST(CommTest, InitRankWithoutConfig) {
  constexpr int kRanks = 3;
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess) << mrdGetLastError(nullptr);
  runThreads(kRanks, [&](int rank) {
    mrdComm_t comm = nullptr;
    ASSERT_EQ(mrdCommInitRank(&comm, kRanks, id, rank), mrdSuccess) << mrdGetLastError(nullptr);
    ASSERT_NE(comm, nullptr);
    int count = -1, me = -1;
    EXPECT_EQ(mrdCommCount(comm, &count), mrdSuccess);
    EXPECT_EQ(mrdCommUserRank(comm, &me), mrdSuccess);
    EXPECT_EQ(count, kRanks);
    EXPECT_EQ(me, rank);
    int64_t v = rank + 1;
    EXPECT_EQ(mrdAllReduce(&v, &v, 1, mrdInt64, mrdSum, comm, nullptr), mrdSuccess)
        << mrdGetLastError(comm);
    EXPECT_EQ(v, kRanks * (kRanks + 1) / 2);
    mrdResult_t async = mrdInternalError;
    EXPECT_EQ(mrdCommGetAsyncError(comm, &async), mrdSuccess);
    EXPECT_EQ(async, mrdSuccess);
    EXPECT_EQ(mrdCommDestroy(comm), mrdSuccess) << mrdGetLastError(nullptr);
  });
}

TEST(CommTest, CountAndUserRank) {
  for (int n : {1, 2, 5}) {
    spawnRanks(n, [n](int rank, mrdComm_t comm) {
      int count = -1, me = -1;
      EXPECT_EQ(mrdCommCount(comm, &count), mrdSuccess);
      EXPECT_EQ(mrdCommUserRank(comm, &me), mrdSuccess);
      EXPECT_EQ(count, n);
      EXPECT_EQ(me, rank);
    });
  }
}

// Config: timeoutMs, channel counts and names are accepted and collectives
// stay correct for every channel setting.
TEST(ConfigTest, ChannelsAndNames) {
  struct Setting {
    int minChannels, maxChannels;
  };
  const Setting settings[] = {{1, 1}, {4, MRD_CONFIG_UNDEF_INT}, {2, 8}, {16, 16}};
  for (const Setting& s : settings) {
    SCOPED_TRACE("minChannels " + std::to_string(s.minChannels) + " maxChannels " +
                 std::to_string(s.maxChannels));
    mrdConfig_t cfg = testConfig(5000);
    cfg.minChannels = s.minChannels;
    cfg.maxChannels = s.maxChannels;
    cfg.netName = "test-net";
    cfg.commName = "config-test";
    cfg.blocking = 1;
    constexpr int kRanks = 3;
    constexpr size_t kCount = (size_t{1} << 20) + 3;
    spawnRanks(
        kRanks,
        [&](int rank, mrdComm_t comm) {
          std::vector<float> buf(kCount);
          for (size_t i = 0; i < kCount; ++i) buf[i] = static_cast<float>((i + rank) % 100);
          ASSERT_EQ(mrdAllReduce(buf.data(), buf.data(), kCount, mrdFloat32, mrdSum, comm, nullptr),
                    mrdSuccess)
              << mrdGetLastError(comm);
          size_t bad = 0;
          for (size_t i = 0; i < kCount; ++i) {
            float want = static_cast<float>(i % 100 + (i + 1) % 100 + (i + 2) % 100);
            if (buf[i] != want && bad++ < 5) {
              ADD_FAILURE() << "rank " << rank << " index " << i << ": expected " << want
                            << ", got " << buf[i];
            }
          }
          EXPECT_EQ(bad, 0u) << "rank " << rank;
          std::vector<int32_t> all(kRanks * 1031, -1), mine(1031);
          for (size_t i = 0; i < mine.size(); ++i) mine[i] = rank * 10000 + static_cast<int>(i);
          ASSERT_EQ(mrdAllGather(mine.data(), all.data(), mine.size(), mrdInt32, comm, nullptr),
                    mrdSuccess)
              << mrdGetLastError(comm);
          for (int r = 0; r < kRanks; ++r) {
            for (size_t i = 0; i < mine.size(); ++i) {
              ASSERT_EQ(all[static_cast<size_t>(r) * mine.size() + i],
                        r * 10000 + static_cast<int>(i))
                  << "rank " << rank << " block " << r << " index " << i;
            }
          }
        },
        &cfg);
  }
}

// config.timeoutMs bounds a wait: a collective a peer never joins fails
// with mrdTimeout after about that long, not much earlier, not much later.
TEST(ConfigTest, TimeoutMsBoundsAWait) {
  constexpr int kTimeoutMs = 1000;
  mrdConfig_t cfg = testConfig(kTimeoutMs);
  std::atomic<bool> rank0Done{false};
  spawnRanks(
      2,
      [&](int rank, mrdComm_t comm) {
        if (rank == 1) {
          // Never joins; waits until rank 0 has given up.
          const long long until = nowMs() + 30000;
          while (!rank0Done.load() && nowMs() < until) std::this_thread::sleep_for(milliseconds(5));
          return;
        }
        float x = 1.0f;
        const long long t0 = nowMs();
        mrdResult_t rc = mrdAllReduce(&x, &x, 1, mrdFloat32, mrdSum, comm, nullptr);
        const long long elapsed = nowMs() - t0;
        rank0Done.store(true);
        EXPECT_EQ(rc, mrdTimeout) << mrdGetErrorString(rc) << ": " << mrdGetLastError(comm);
        EXPECT_GT(std::strlen(mrdGetLastError(comm)), 0u);
        EXPECT_GE(elapsed, kTimeoutMs * 9 / 10) << "failed before the timeout";
        EXPECT_LT(elapsed, 10000) << "took far longer than timeoutMs " << kTimeoutMs;
      },
      &cfg);
}

// Finalize (after work, including queued stream work) then destroy.
TEST(CommTest, FinalizeThenDestroy) {
  constexpr int kRanks = 3;
  spawnRanks(kRanks, [&](int rank, mrdComm_t comm) {
    int32_t v = rank + 1;
    ASSERT_EQ(mrdAllReduce(&v, &v, 1, mrdInt32, mrdSum, comm, nullptr), mrdSuccess)
        << mrdGetLastError(comm);
    EXPECT_EQ(v, 6);
    mrdStream_t stream = nullptr;
    ASSERT_EQ(mrdStreamCreate(comm, &stream), mrdSuccess) << mrdGetLastError(comm);
    std::vector<int32_t> buf(4099, rank + 1);
    ASSERT_EQ(mrdAllReduce(buf.data(), buf.data(), buf.size(), mrdInt32, mrdSum, comm, stream),
              mrdSuccess)
        << mrdGetLastError(comm);
    // Finalize waits for the queued operation.
    EXPECT_EQ(mrdCommFinalize(comm), mrdSuccess) << mrdGetLastError(comm);
    for (size_t i = 0; i < buf.size(); ++i) {
      ASSERT_EQ(buf[i], 6) << "rank " << rank << " index " << i
                           << ": queued work not complete after mrdCommFinalize";
    }
    EXPECT_EQ(mrdStreamDestroy(stream), mrdSuccess) << mrdGetLastError(nullptr);
    // The spawner destroys the communicator.
  });
}

// ---- Split ----

// Colors even/odd, keys reversing the order: in each child the highest
// parent rank comes first.
TEST(SplitTest, EvenOddWithReversedKeys) {
  for (int n : {2, 4, 5}) {
    SCOPED_TRACE("nranks " + std::to_string(n));
    spawnRanks(n, [n](int rank, mrdComm_t comm) {
      const int color = rank % 2;
      mrdComm_t child = nullptr;
      mrdConfig_t childCfg = testConfig(10000);
      ASSERT_EQ(mrdCommSplit(comm, color, n - rank, &child, &childCfg), mrdSuccess)
          << "rank " << rank << ": " << mrdGetLastError(comm);
      ASSERT_NE(child, nullptr);
      // Parent ranks of my color, in reverse order.
      std::vector<int32_t> members;
      for (int r = n - 1; r >= 0; --r) {
        if (r % 2 == color) members.push_back(r);
      }
      int count = -1, me = -1;
      EXPECT_EQ(mrdCommCount(child, &count), mrdSuccess);
      EXPECT_EQ(mrdCommUserRank(child, &me), mrdSuccess);
      EXPECT_EQ(count, static_cast<int>(members.size())) << "rank " << rank;
      int want = -1;
      for (size_t i = 0; i < members.size(); ++i) {
        if (members[i] == rank) want = static_cast<int>(i);
      }
      EXPECT_EQ(me, want) << "parent rank " << rank;

      // AllReduce and AllGather on the child.
      int64_t sum = rank;
      ASSERT_EQ(mrdAllReduce(&sum, &sum, 1, mrdInt64, mrdSum, child, nullptr), mrdSuccess)
          << mrdGetLastError(child);
      int64_t wantSum = 0;
      for (int32_t m : members) wantSum += m;
      EXPECT_EQ(sum, wantSum) << "parent rank " << rank;
      std::vector<int32_t> got(members.size(), -1);
      int32_t mine = rank;
      ASSERT_EQ(mrdAllGather(&mine, got.data(), 1, mrdInt32, child, nullptr), mrdSuccess)
          << mrdGetLastError(child);
      EXPECT_EQ(got, members) << "parent rank " << rank;

      // Broadcast from the child's last rank (the lowest parent rank).
      const int root = static_cast<int>(members.size()) - 1;
      std::vector<float> b(1031, me == root ? 7.5f : 0.0f);
      ASSERT_EQ(mrdBroadcast(b.data(), b.data(), b.size(), mrdFloat32, root, child, nullptr),
                mrdSuccess)
          << mrdGetLastError(child);
      for (float x : b) ASSERT_EQ(x, 7.5f) << "parent rank " << rank;

      // The parent still works while the child exists.
      int32_t total = 1;
      ASSERT_EQ(mrdAllReduce(&total, &total, 1, mrdInt32, mrdSum, comm, nullptr), mrdSuccess)
          << mrdGetLastError(comm);
      EXPECT_EQ(total, n);
      EXPECT_EQ(mrdCommDestroy(child), mrdSuccess) << mrdGetLastError(nullptr);
    });
  }
}

// With MRD_COMM_ID (ranks launched by Slurm or mpirun without a unique id)
// the world's root sits at that address; a split's roots must not try to
// listen there too (they did: "Address already in use", "rank 1 joined twice").
TEST(SplitTest, WorksWhenTheWorldsRootIsPinnedByMrdCommId) {
  int probe = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len), 0);
  close(probe);  // a port free a moment ago
  ScopedEnv commId("MRD_COMM_ID", ("127.0.0.1:" + std::to_string(ntohs(a.sin_port))).c_str());
  constexpr int kRanks = 4;
  spawnRanks(kRanks, [](int rank, mrdComm_t comm) {
    for (int round = 0; round < 2; ++round) {
      mrdComm_t child = nullptr;
      ASSERT_EQ(mrdCommSplit(comm, rank % 2, rank, &child, nullptr), mrdSuccess)
          << "rank " << rank << ": " << mrdGetLastError(comm);
      std::vector<int32_t> v(1000, rank);
      ASSERT_EQ(mrdAllReduce(v.data(), v.data(), v.size(), mrdInt32, mrdSum, child, nullptr), mrdSuccess)
          << mrdGetLastError(child);
      for (int32_t x : v) ASSERT_EQ(x, rank % 2 == 0 ? 0 + 2 : 1 + 3);
      EXPECT_EQ(mrdCommDestroy(child), mrdSuccess) << mrdGetLastError(nullptr);
    }
  });
}

// Alltoallv where the ranks' totals differ by orders of magnitude: every
// rank must still plan the same exchange (the tuner sized it by each
// rank's own total, and the ranks then waited on different channels).
TEST(AlltoAllvTest, RanksWhoseTotalsDifferGreatlyAgreeOnTheExchange) {
  constexpr int kRanks = 4;
  spawnRanks(kRanks, [](int rank, mrdComm_t comm) {
    // Rank r sends count(r, j) elements to rank j: rank 0 a lot, the rest one each.
    auto count = [](int from, int to) -> size_t { return from == 0 ? 70000 + 1000 * to : 1 + to; };
    std::vector<size_t> sc(kRanks), sd(kRanks), rc(kRanks), rd(kRanks);
    size_t st = 0, rt = 0;
    for (int j = 0; j < kRanks; ++j) {
      sc[j] = count(rank, j);
      sd[j] = st;
      st += sc[j];
      rc[j] = count(j, rank);
      rd[j] = rt;
      rt += rc[j];
    }
    std::vector<int32_t> send(st), recv(rt, -1);
    for (int j = 0; j < kRanks; ++j) {
      for (size_t k = 0; k < sc[j]; ++k) send[sd[j] + k] = rank * 1000000 + j * 100000 + static_cast<int32_t>(k % 100000);
    }
    for (int round = 0; round < 3; ++round) {
      ASSERT_EQ(mrdAlltoAllv(send.data(), sc.data(), sd.data(), recv.data(), rc.data(), rd.data(), mrdInt32, comm,
                             nullptr),
                mrdSuccess)
          << "rank " << rank << ": " << mrdGetLastError(comm);
      for (int j = 0; j < kRanks; ++j) {
        for (size_t k = 0; k < rc[j]; ++k) {
          ASSERT_EQ(recv[rd[j] + k], j * 1000000 + rank * 100000 + static_cast<int32_t>(k % 100000))
              << "rank " << rank << " from " << j << " element " << k;
        }
      }
    }
  });
}

// MRD_SPLIT_NOCOLOR: that rank gets NULL; the others form a working comm.
TEST(SplitTest, NoColorGivesNull) {
  constexpr int kRanks = 4;
  spawnRanks(kRanks, [](int rank, mrdComm_t comm) {
    mrdComm_t child = reinterpret_cast<mrdComm_t>(uintptr_t{0x1});
    const int color = rank == 0 ? MRD_SPLIT_NOCOLOR : 3;
    ASSERT_EQ(mrdCommSplit(comm, color, rank, &child, nullptr), mrdSuccess)
        << "rank " << rank << ": " << mrdGetLastError(comm);
    if (rank == 0) {
      EXPECT_EQ(child, nullptr);
      return;
    }
    ASSERT_NE(child, nullptr);
    int count = -1, me = -1;
    EXPECT_EQ(mrdCommCount(child, &count), mrdSuccess);
    EXPECT_EQ(mrdCommUserRank(child, &me), mrdSuccess);
    EXPECT_EQ(count, kRanks - 1);
    EXPECT_EQ(me, rank - 1);
    std::vector<double> v(777, rank);
    ASSERT_EQ(mrdAllReduce(v.data(), v.data(), v.size(), mrdFloat64, mrdMax, child, nullptr),
              mrdSuccess)
        << mrdGetLastError(child);
    for (double x : v) ASSERT_EQ(x, kRanks - 1.0);
    EXPECT_EQ(mrdCommDestroy(child), mrdSuccess) << mrdGetLastError(nullptr);
  });
}

// ---- Grouped point-to-point ----

int32_t p2pValue(int src, int dst, int msg, size_t i) {
  return static_cast<int32_t>(src * 1000003 + dst * 10007 + msg * 1000 + static_cast<int>(i % 997));
}

// Each rank sends to every other rank (both directions of every pair) in
// one group, two messages per peer (matched in order), with receives posted
// before or after the sends depending on the rank.
TEST(GroupTest, SendRecvWithAllPeersInOneGroup) {
  for (int n : {2, 3, 5, 8}) {
    for (size_t count : {size_t{1}, size_t{1031}, size_t{300000}}) {
      if (n == 8 && count > 1031) continue;
      SCOPED_TRACE("nranks " + std::to_string(n) + " count " + std::to_string(count));
      spawnRanks(n, [n, count](int rank, mrdComm_t comm) {
        const size_t un = static_cast<size_t>(n);
        // Message 0 has count elements, message 1 has count / 2 + 1.
        const size_t sizes[2] = {count, count / 2 + 1};
        std::vector<std::vector<int32_t>> sendBufs(2 * un), recvBufs(2 * un);
        for (int peer = 0; peer < n; ++peer) {
          for (int m = 0; m < 2; ++m) {
            auto& s = sendBufs[static_cast<size_t>(peer * 2 + m)];
            s.resize(sizes[m]);
            for (size_t i = 0; i < s.size(); ++i) s[i] = p2pValue(rank, peer, m, i);
            recvBufs[static_cast<size_t>(peer * 2 + m)].assign(sizes[m], -1);
          }
        }
        auto postSends = [&] {
          for (int k = 1; k < n; ++k) {
            const int peer = (rank + k) % n;
            for (int m = 0; m < 2; ++m) {
              auto& s = sendBufs[static_cast<size_t>(peer * 2 + m)];
              EXPECT_EQ(mrdSend(s.data(), s.size(), mrdInt32, peer, comm, nullptr), mrdSuccess)
                  << mrdGetLastError(comm);
            }
          }
        };
        auto postRecvs = [&] {
          for (int k = 1; k < n; ++k) {
            const int peer = (rank + n - k) % n;
            for (int m = 0; m < 2; ++m) {
              auto& r = recvBufs[static_cast<size_t>(peer * 2 + m)];
              EXPECT_EQ(mrdRecv(r.data(), r.size(), mrdInt32, peer, comm, nullptr), mrdSuccess)
                  << mrdGetLastError(comm);
            }
          }
        };
        ASSERT_EQ(mrdGroupStart(), mrdSuccess);
        if (rank % 2 == 0) {
          postSends();
          postRecvs();
        } else {
          postRecvs();
          postSends();
        }
        ASSERT_EQ(mrdGroupEnd(), mrdSuccess) << "rank " << rank << ": " << mrdGetLastError(comm);
        for (int peer = 0; peer < n; ++peer) {
          if (peer == rank) continue;
          for (int m = 0; m < 2; ++m) {
            const auto& r = recvBufs[static_cast<size_t>(peer * 2 + m)];
            size_t bad = 0;
            for (size_t i = 0; i < r.size(); ++i) {
              if (r[i] != p2pValue(peer, rank, m, i) && bad++ < 5) {
                ADD_FAILURE() << "rank " << rank << " from " << peer << " message " << m
                              << " index " << i << ": expected " << p2pValue(peer, rank, m, i)
                              << ", got " << r[i];
              }
            }
            EXPECT_EQ(bad, 0u);
          }
        }
      });
    }
  }
}

// Collectives and point-to-point mixed in one group keep their meaning.
TEST(GroupTest, CollectivesInsideAGroup) {
  constexpr int kRanks = 4;
  spawnRanks(kRanks, [](int rank, mrdComm_t comm) {
    std::vector<int32_t> a(1031, rank + 1), b(2 * 1031, -1);
    std::vector<int32_t> mine(1031, rank), gathered(kRanks * 1031, -1);
    ASSERT_EQ(mrdGroupStart(), mrdSuccess);
    EXPECT_EQ(mrdAllReduce(a.data(), a.data(), a.size(), mrdInt32, mrdSum, comm, nullptr),
              mrdSuccess);
    EXPECT_EQ(mrdAllGather(mine.data(), gathered.data(), mine.size(), mrdInt32, comm, nullptr),
              mrdSuccess);
    ASSERT_EQ(mrdGroupEnd(), mrdSuccess) << mrdGetLastError(comm);
    for (int32_t x : a) ASSERT_EQ(x, 10);
    for (size_t i = 0; i < gathered.size(); ++i) {
      ASSERT_EQ(gathered[i], static_cast<int32_t>(i / 1031)) << "index " << i;
    }
  });
}

// One rank's group holds sends and receives to itself besides the
// collective, the other's the collective alone: both must take the same
// path for it (the shared-memory board, small as it is), not wait for
// each other until the timeout.
TEST(GroupTest, ASmallCollectiveWithSelfSendsOnOneRankOnly) {
  mrdConfig_t cfg = testConfig(5000);
  spawnRanks(
      2,
      [](int rank, mrdComm_t comm) {
        float x = static_cast<float>(rank + 1), self = 7.0f, back = 0.0f;
        const long long t0 = nowMs();
        ASSERT_EQ(mrdGroupStart(), mrdSuccess);
        EXPECT_EQ(mrdAllReduce(&x, &x, 1, mrdFloat32, mrdSum, comm, nullptr), mrdSuccess);
        if (rank == 0) {
          EXPECT_EQ(mrdSend(&self, 1, mrdFloat32, 0, comm, nullptr), mrdSuccess);
          EXPECT_EQ(mrdRecv(&back, 1, mrdFloat32, 0, comm, nullptr), mrdSuccess);
        }
        ASSERT_EQ(mrdGroupEnd(), mrdSuccess) << mrdGetLastError(comm);
        EXPECT_EQ(x, 3.0f);
        if (rank == 0) {
          EXPECT_EQ(back, 7.0f);
        }
        EXPECT_LT(nowMs() - t0, 2000) << "the ranks waited for each other";
      },
      &cfg);
}

// Rank 0's group holds a send to rank 1 and a small allreduce (the
// board's); rank 1 receives in one call, then joins the allreduce in the
// next. The send must move while rank 0's board round waits for rank 1.
TEST(GroupTest, ASendBesideASmallCollectiveMovesWhileItsRoundWaits) {
  mrdConfig_t cfg = testConfig(5000);
  spawnRanks(
      2,
      [](int rank, mrdComm_t comm) {
        float x = static_cast<float>(rank + 1), msg = 5.0f, got = 0.0f;
        const long long t0 = nowMs();
        if (rank == 0) {
          ASSERT_EQ(mrdGroupStart(), mrdSuccess);
          EXPECT_EQ(mrdSend(&msg, 1, mrdFloat32, 1, comm, nullptr), mrdSuccess);
          EXPECT_EQ(mrdAllReduce(&x, &x, 1, mrdFloat32, mrdSum, comm, nullptr), mrdSuccess);
          ASSERT_EQ(mrdGroupEnd(), mrdSuccess) << mrdGetLastError(comm);
        } else {
          ASSERT_EQ(mrdRecv(&got, 1, mrdFloat32, 0, comm, nullptr), mrdSuccess) << mrdGetLastError(comm);
          EXPECT_EQ(got, 5.0f);
          ASSERT_EQ(mrdAllReduce(&x, &x, 1, mrdFloat32, mrdSum, comm, nullptr), mrdSuccess) << mrdGetLastError(comm);
        }
        EXPECT_EQ(x, 3.0f);
        EXPECT_LT(nowMs() - t0, 2000) << "the ranks waited for each other";
      },
      &cfg);
}

// ---- Streams ----

// Several operations queued back to back on one stream, each reading the
// previous one's output: they run in issue order, Query reports
// InProgress/Success and eventually Success, and the results are right.
TEST(StreamTest, QueuedOperationsRunInIssueOrder) {
  for (int n : {1, 3, 4}) {
    SCOPED_TRACE("nranks " + std::to_string(n));
    spawnRanks(n, [n](int rank, mrdComm_t comm) {
      mrdStream_t stream = nullptr;
      ASSERT_EQ(mrdStreamCreate(comm, &stream), mrdSuccess) << mrdGetLastError(comm);
      ASSERT_NE(stream, nullptr);
      constexpr size_t kCount = (size_t{1} << 18) + 1;
      std::vector<int64_t> a(kCount), b(kCount, -1), c(kCount * static_cast<size_t>(n), -1);
      for (size_t i = 0; i < kCount; ++i) a[i] = static_cast<int64_t>(i % 50) + rank;
      // 1: b = sum(a). 2: b = sum(b), in place. 3: broadcast b from the last
      // rank, in place. 4: c = allgather(b). 5: a = max(b).
      ASSERT_EQ(mrdAllReduce(a.data(), b.data(), kCount, mrdInt64, mrdSum, comm, stream),
                mrdSuccess)
          << mrdGetLastError(comm);
      ASSERT_EQ(mrdAllReduce(b.data(), b.data(), kCount, mrdInt64, mrdSum, comm, stream),
                mrdSuccess)
          << mrdGetLastError(comm);
      ASSERT_EQ(mrdBroadcast(b.data(), b.data(), kCount, mrdInt64, n - 1, comm, stream), mrdSuccess)
          << mrdGetLastError(comm);
      ASSERT_EQ(mrdAllGather(b.data(), c.data(), kCount, mrdInt64, comm, stream), mrdSuccess)
          << mrdGetLastError(comm);
      ASSERT_EQ(mrdAllReduce(b.data(), a.data(), kCount, mrdInt64, mrdMax, comm, stream),
                mrdSuccess)
          << mrdGetLastError(comm);
      // Poll until complete.
      const long long deadline = nowMs() + 30000;
      mrdResult_t q = mrdInProgress;
      int polls = 0;
      while (nowMs() < deadline) {
        q = mrdStreamQuery(stream);
        ++polls;
        if (q != mrdInProgress) break;
        std::this_thread::sleep_for(milliseconds(1));
      }
      EXPECT_EQ(q, mrdSuccess) << "after " << polls << " polls: " << mrdGetErrorString(q);
      EXPECT_EQ(mrdStreamSynchronize(stream), mrdSuccess) << mrdGetLastError(comm);
      EXPECT_EQ(mrdStreamQuery(stream), mrdSuccess);
      // Expected: b1[i] = n*(i%50) + n(n-1)/2; b2 = n * b1; broadcast: same;
      // c = n copies of b2; a = b2.
      const int64_t tri = static_cast<int64_t>(n) * (n - 1) / 2;
      size_t bad = 0;
      for (size_t i = 0; i < kCount; ++i) {
        const int64_t b2 = n * (n * static_cast<int64_t>(i % 50) + tri);
        bool ok = b[i] == b2 && a[i] == b2;
        for (int r = 0; r < n; ++r) ok = ok && c[static_cast<size_t>(r) * kCount + i] == b2;
        if (!ok && bad++ < 5) {
          ADD_FAILURE() << "rank " << rank << " index " << i << ": expected " << b2 << ", got b "
                        << b[i] << " a " << a[i] << " c[0] " << c[i];
        }
      }
      EXPECT_EQ(bad, 0u) << "rank " << rank;
      // A blocking operation after stream work.
      int32_t one = 1;
      EXPECT_EQ(mrdAllReduce(&one, &one, 1, mrdInt32, mrdSum, comm, nullptr), mrdSuccess);
      EXPECT_EQ(one, n);
      EXPECT_EQ(mrdStreamDestroy(stream), mrdSuccess) << mrdGetLastError(nullptr);
    });
  }
}

// A stream on an idle communicator reports Success at once; synchronize of
// an empty stream returns at once; several streams on one comm.
TEST(StreamTest, IdleAndMultipleStreams) {
  spawnRanks(2, [](int rank, mrdComm_t comm) {
    mrdStream_t s1 = nullptr, s2 = nullptr;
    ASSERT_EQ(mrdStreamCreate(comm, &s1), mrdSuccess);
    ASSERT_EQ(mrdStreamCreate(comm, &s2), mrdSuccess);
    EXPECT_EQ(mrdStreamQuery(s1), mrdSuccess);
    EXPECT_EQ(mrdStreamSynchronize(s1), mrdSuccess);
    std::vector<float> x(1031, 1.0f + rank), y(1031, 0.0f);
    ASSERT_EQ(mrdAllReduce(x.data(), y.data(), x.size(), mrdFloat32, mrdSum, comm, s1), mrdSuccess);
    ASSERT_EQ(mrdStreamSynchronize(s1), mrdSuccess) << mrdGetLastError(comm);
    ASSERT_EQ(mrdAllReduce(y.data(), x.data(), y.size(), mrdFloat32, mrdSum, comm, s2), mrdSuccess);
    ASSERT_EQ(mrdStreamSynchronize(s2), mrdSuccess) << mrdGetLastError(comm);
    for (float v : y) ASSERT_EQ(v, 3.0f);
    for (float v : x) ASSERT_EQ(v, 6.0f);
    EXPECT_EQ(mrdStreamDestroy(s1), mrdSuccess);
    EXPECT_EQ(mrdStreamDestroy(s2), mrdSuccess);
  });
}

// ---- Abort ----

// Ranks 1..n-1 block in an AllReduce that rank 0 never joins; rank 0
// aborts its communicator. The others must get an error well before the
// watchdog (with timeoutMs as given).
void abortWhileOthersWait(int n, int timeoutMs, long long boundMs) {
  mrdConfig_t cfg = testConfig(timeoutMs);
  spawnRanksOwning(
      n,
      [&](int rank, mrdComm_t& comm) {
        if (rank == 0) {
          std::this_thread::sleep_for(milliseconds(300));
          EXPECT_EQ(mrdCommAbort(comm), mrdSuccess) << mrdGetLastError(nullptr);
          comm = nullptr;  // freed by mrdCommAbort
          return;
        }
        std::vector<float> buf(1031, 1.0f);
        const long long t0 = nowMs();
        mrdResult_t rc =
            mrdAllReduce(buf.data(), buf.data(), buf.size(), mrdFloat32, mrdSum, comm, nullptr);
        const long long elapsed = nowMs() - t0;
        EXPECT_NE(rc, mrdSuccess) << "rank " << rank;
        EXPECT_LT(elapsed, boundMs) << "rank " << rank << " returned " << mrdGetErrorString(rc);
        if (rc != mrdSuccess) {
          EXPECT_GT(std::strlen(mrdGetLastError(comm)), 0u) << "rank " << rank;
        }
      },
      &cfg, 60000);
}

TEST(AbortTest, PeersWaitingInAllReduceFailFast) { abortWhileOthersWait(4, 2000, 10000); }

// With a long timeout, the error must come from the abort itself (closed
// connections), not from running into timeoutMs.
TEST(AbortTest, AbortReachesPeersBeforeTheirTimeout) { abortWhileOthersWait(3, 60000, 10000); }

// One thread of rank 1 blocks in an AllReduce (rank 0 never joins); another
// thread of rank 1 aborts that communicator: the blocked call returns an
// error and mrdCommAbort returns.
TEST(AbortTest, AbortFromAnotherThreadUnblocksACall) {
  mrdConfig_t cfg = testConfig(60000);
  std::atomic<bool> rank1Done{false};
  spawnRanksOwning(
      2,
      [&](int rank, mrdComm_t& comm) {
        if (rank == 0) {
          const long long until = nowMs() + 30000;
          while (!rank1Done.load() && nowMs() < until) std::this_thread::sleep_for(milliseconds(5));
          return;  // destroyed by the spawner
        }
        std::atomic<bool> entering{false};
        std::atomic<long long> returnedAt{0};
        mrdResult_t rc = mrdSuccess;
        mrdComm_t c = comm;
        std::thread blocked([&] {
          std::vector<int32_t> buf(1031, 1);
          entering.store(true);
          rc = mrdAllReduce(buf.data(), buf.data(), buf.size(), mrdInt32, mrdSum, c, nullptr);
          returnedAt.store(nowMs());
        });
        while (!entering.load()) std::this_thread::sleep_for(milliseconds(1));
        std::this_thread::sleep_for(milliseconds(500));  // let it block inside the call
        EXPECT_EQ(returnedAt.load(), 0) << "the AllReduce returned without its peer";
        const long long t0 = nowMs();
        EXPECT_EQ(mrdCommAbort(comm), mrdSuccess) << mrdGetLastError(nullptr);
        comm = nullptr;
        blocked.join();
        const long long took = returnedAt.load() - t0;
        EXPECT_NE(rc, mrdSuccess) << "the blocked AllReduce succeeded after abort";
        EXPECT_LT(took, 10000) << "the blocked call took " << took << " ms to return";
        rank1Done.store(true);
      },
      &cfg, 60000);
}

}  // namespace
}  // namespace mrdtest
