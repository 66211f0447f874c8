// The shared-memory board's protocol (core/local_board.h), white-box:
// ranks are threads, their areas plain memory, the doorbell a no-op. The
// data types and ops are the collectives matrix's job (MRD_ALGO=board in
// tests/CMakeLists.txt); here: slots reused over many operations of mixed
// kinds and roots, operations that differ between ranks, a peer that never
// comes, one that is gone, and abort.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/local_board.h"

namespace mrd {
namespace {

using Clock = std::chrono::steady_clock;

class NoDoorbell : public transport::Transport {
 public:
  const char* name() const override { return "test"; }
  bool viable() const override { return true; }
  bool canReach(const bootstrap::Bootstrap&, int) const override { return true; }
  Status connect(const transport::SetupContext&, transport::ConnectionTable*) override { return Status::ok(); }
  bool hasDoorbell() const override { return true; }
  void sleep(int timeoutUs) override { std::this_thread::sleep_for(std::chrono::microseconds(timeoutUs / 10)); }
  void abort() override {}
};

// n ranks' areas, and a LocalBoard per rank.
struct Boards {
  Boards(int n, size_t capacity) : bytes(LocalBoard::areaBytes(capacity)) {
    for (int r = 0; r < n; ++r) {
      void* p = nullptr;
      EXPECT_EQ(posix_memalign(&p, 64, bytes), 0);
      std::memset(p, 0, bytes);
      areas.emplace_back(static_cast<char*>(p), &std::free);
    }
    gone.assign(static_cast<size_t>(n), false);
    boards.resize(static_cast<size_t>(n));
    for (int r = 0; r < n; ++r) {
      transport::BoardView v;
      for (auto& a : areas) v.areas.push_back(a.get());
      v.wake = [](int) {};
      v.sleeping.assign(static_cast<size_t>(n), &noSleeper);
      v.gone = [this](int q) { return gone[static_cast<size_t>(q)] ? std::string("rank ") + std::to_string(q) + " is gone" : std::string(); };
      boards[static_cast<size_t>(r)].attach(v, &bell, r, n, capacity);
    }
  }
  ExecutionEnv env(int timeoutMs = 10000) const {
    ExecutionEnv e;
    e.timeoutMs = timeoutMs;
    e.spinUs = 50;
    e.abort = &aborted;
    return e;
  }
  size_t bytes;
  std::vector<std::unique_ptr<char, decltype(&std::free)>> areas;
  std::vector<LocalBoard> boards;
  std::vector<bool> gone;
  std::atomic<bool> aborted{false};
  std::atomic<uint32_t> noSleeper{0};
  NoDoorbell bell;
};

void runRanks(int n, const std::function<void(int)>& fn) {
  std::vector<std::thread> ts;
  for (int r = 0; r < n; ++r) ts.emplace_back(fn, r);
  for (auto& t : ts) t.join();
}

const auto kWhat = [] { return std::string("the test's operation"); };

CollRequest request(CollKind kind, const void* send, void* recv, size_t count, int root = 0) {
  CollRequest r;
  r.kind = kind;
  r.sendbuf = send;
  r.recvbuf = recv;
  r.count = count;
  r.type = mrdFloat32;
  r.root = root;
  return r;
}

TEST(LocalBoard, ManyOperationsOfMixedKindsAndRootsReuseTheSlots) {
  // 600 operations, each rank drawing the same sequence: every slot is
  // written again about 19 times, by ranks that run ahead of each other.
  for (int n : {2, 3, 5}) {
    Boards b(n, 1024);
    std::atomic<int> wrong{0};
    runRanks(n, [&](int r) {
      std::mt19937 rng(7);
      const ExecutionEnv env = b.env();
      for (int op = 0; op < 600; ++op) {
        const auto kind = static_cast<int>(rng() % 6);
        const int root = static_cast<int>(rng() % static_cast<unsigned>(n));
        const size_t count = 1 + rng() % 40;
        std::vector<float> in(count * static_cast<size_t>(n)), out(count * static_cast<size_t>(n), -1.0f);
        for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(op * 1000 + r * 100 + static_cast<int>(i));
        CollKind k = CollKind::kAllReduce;
        switch (kind) {
          case 0: k = CollKind::kAllReduce; break;
          case 1: k = CollKind::kBroadcast; break;
          case 2: k = CollKind::kReduce; break;
          case 3: k = CollKind::kAllGather; break;
          case 4: k = CollKind::kReduceScatter; break;
          default: k = CollKind::kAlltoAll; break;
        }
        Status st = b.boards[static_cast<size_t>(r)].run(request(k, in.data(), out.data(), count, root), env, kWhat);
        if (!st.isOk()) {
          ADD_FAILURE() << "rank " << r << " op " << op << ": " << st.message();
          return;
        }
        auto input = [&](int q, size_t i) { return static_cast<float>(op * 1000 + q * 100 + static_cast<int>(i)); };
        for (size_t i = 0; i < count; ++i) {
          float want = 0, got = out[i];
          switch (k) {
            case CollKind::kAllReduce:
              for (int q = 0; q < n; ++q) want += input(q, i);
              break;
            case CollKind::kReduce:
              if (r != root) continue;
              for (int q = 0; q < n; ++q) want += input(q, i);
              break;
            case CollKind::kBroadcast:
              want = input(root, i);
              break;
            case CollKind::kReduceScatter:
              for (int q = 0; q < n; ++q) want += input(q, static_cast<size_t>(r) * count + i);
              break;
            default:
              break;
          }
          if (k == CollKind::kAllGather || k == CollKind::kAlltoAll) {
            for (int q = 0; q < n; ++q) {
              const float w = k == CollKind::kAllGather ? input(q, i) : input(q, static_cast<size_t>(r) * count + i);
              if (out[static_cast<size_t>(q) * count + i] != w) ++wrong;
            }
            continue;
          }
          if (got != want) ++wrong;
        }
      }
    });
    EXPECT_EQ(wrong.load(), 0) << n << " ranks";
  }
}

TEST(LocalBoard, ABroadcastRootRunsAheadOfALateReaderAndWaitsForItsSlots) {
  // The root writes 50 broadcasts; the reader starts 50 ms later. The root
  // gets kSlots ahead, then waits for each slot the reader frees, and
  // the reader still sees every broadcast's own data.
  Boards b(2, 256);
  std::atomic<int> rootDone{0};
  std::vector<float> seen;
  runRanks(2, [&](int r) {
    const ExecutionEnv env = b.env();
    if (r == 1) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (int op = 0; op < 50; ++op) {
      float x = static_cast<float>(op * 10 + 1), got = -1;
      Status st = b.boards[static_cast<size_t>(r)].run(request(CollKind::kBroadcast, &x, r == 0 ? &x : &got, 1, 0), env, kWhat);
      ASSERT_TRUE(st.isOk()) << st.message();
      if (r == 0) {
        rootDone = op + 1;
      } else {
        seen.push_back(got);
      }
    }
    if (r == 1) return;
  });
  ASSERT_EQ(seen.size(), 50u);
  for (int op = 0; op < 50; ++op) EXPECT_EQ(seen[static_cast<size_t>(op)], static_cast<float>(op * 10 + 1)) << op;
}

TEST(LocalBoard, TheRootStopsKSlotsAheadUntilTheReaderReads) {
  Boards b(2, 256);
  std::atomic<int> rootDone{0};
  std::atomic<bool> readerGo{false};
  runRanks(2, [&](int r) {
    const ExecutionEnv env = b.env();
    if (r == 1) {
      // Bounded: a root that never stops must fail the test, not hang it.
      const auto until = Clock::now() + std::chrono::seconds(10);
      while (!readerGo && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (int op = 0; op < static_cast<int>(LocalBoard::kSlots) + 12; ++op) {
      float x = static_cast<float>(op), got = -1;
      Status st = b.boards[static_cast<size_t>(r)].run(request(CollKind::kBroadcast, &x, r == 0 ? &x : &got, 1, 0), env, kWhat);
      ASSERT_TRUE(st.isOk()) << st.message();
      if (r == 0) {
        rootDone = op + 1;
        if (op + 1 == static_cast<int>(LocalBoard::kSlots)) {
          // The next one needs the slot of operation 1, which nobody read:
          // the root must wait there, and the reader is let go meanwhile.
          std::thread([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            EXPECT_EQ(rootDone.load(), static_cast<int>(LocalBoard::kSlots)) << "the root overwrote an unread slot";
            readerGo = true;
          }).detach();
        }
      } else {
        EXPECT_EQ(got, static_cast<float>(op));
      }
    }
  });
  EXPECT_EQ(rootDone.load(), static_cast<int>(LocalBoard::kSlots) + 12);
}

TEST(LocalBoard, ARoundPolledAlongsideOtherWorkMeetsABlockingOne) {
  // begin()/poll() on rank 0 (as the executor drives it beside a group's
  // transfers), run() on rank 1: the same round, both results right.
  Boards b(2, 256);
  float out[2][2] = {{0, 0}, {0, 0}};
  runRanks(2, [&](int r) {
    float in[2] = {static_cast<float>(r + 1), 10.0f};
    CollRequest req = request(CollKind::kAllReduce, in, out[r], 2);
    if (r == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      EXPECT_TRUE(b.boards[1].run(req, b.env(), kWhat).isOk());
      return;
    }
    ASSERT_TRUE(b.boards[0].begin(req).isOk());
    bool done = false, moved = false;
    int polls = 0;
    const auto until = Clock::now() + std::chrono::seconds(10);
    while (!done && Clock::now() < until) {
      Status st = b.boards[0].poll(&moved, &done, kWhat);
      ASSERT_TRUE(st.isOk()) << st.message();
      ++polls;
      std::this_thread::yield();
    }
    EXPECT_TRUE(done);
    EXPECT_GT(polls, 1) << "rank 1 came 20 ms later: the first polls must not finish";
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(out[r][0], 3.0f);
    EXPECT_EQ(out[r][1], 20.0f);
  }
}

TEST(LocalBoard, DifferentOperationsOnTwoRanksAreAnErrorNamingBoth) {
  Boards b(2, 256);
  std::vector<std::string> errors(2);
  runRanks(2, [&](int r) {
    float in[3] = {1, 2, 3}, out[3];
    Status st = b.boards[static_cast<size_t>(r)].run(request(CollKind::kAllReduce, in, out, r == 0 ? 2 : 3), b.env(), kWhat);
    EXPECT_EQ(st.code(), mrdInvalidUsage) << "rank " << r;
    errors[static_cast<size_t>(r)] = st.message();
  });
  EXPECT_NE(errors[0].find("peer 1 called allreduce of 3 float sum"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("this rank called allreduce of 2 float sum"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("peer 0 called allreduce of 2"), std::string::npos) << errors[1];
}

TEST(LocalBoard, APeerThatNeverComesTimesOutNamingIt) {
  Boards b(3, 256);
  float in = 1, out = 0;
  const auto t0 = Clock::now();
  // Ranks 0 and 1 run; rank 2 never does.
  std::vector<Status> st(2);
  runRanks(2, [&](int r) { st[static_cast<size_t>(r)] = b.boards[static_cast<size_t>(r)].run(request(CollKind::kAllReduce, &in, &out, 1), b.env(300), kWhat); });
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  for (const Status& s : st) {
    EXPECT_EQ(s.code(), mrdTimeout);
    EXPECT_NE(s.message().find("peer 2"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("the test's operation"), std::string::npos) << s.message();
  }
  EXPECT_GE(ms, 290);
  EXPECT_LT(ms, 3000);
}

TEST(LocalBoard, APeerThatIsGoneIsAnErrorLongBeforeTheTimeout) {
  Boards b(2, 256);
  b.gone[1] = true;
  float in = 1, out = 0;
  const auto t0 = Clock::now();
  Status st = b.boards[0].run(request(CollKind::kAllReduce, &in, &out, 1), b.env(60000), kWhat);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  EXPECT_EQ(st.code(), mrdRemoteError);
  EXPECT_NE(st.message().find("rank 1 is gone"), std::string::npos) << st.message();
  EXPECT_LT(ms, 1000);
}

TEST(LocalBoard, WhatAPeerPublishedJustBeforeItLeftStillCounts) {
  // The root of a broadcast publishes and leaves between the reader's last
  // look and its question whether the root is gone: the reader must still
  // take the data (the view's gone() plays the root, once).
  Boards b(2, 256);
  float in[2] = {4, 5}, out[2] = {0, 0};
  bool rootRan = false;
  b.boards[1].attach([&] {
    transport::BoardView v;
    for (auto& a : b.areas) v.areas.push_back(a.get());
    v.sleeping.assign(2, &b.noSleeper);
    v.wake = [](int) {};
    v.gone = [&](int q) -> std::string {
      if (q != 0) return "";
      if (!rootRan) {
        rootRan = true;
        EXPECT_TRUE(b.boards[0].run(request(CollKind::kBroadcast, in, in, 2, 0), b.env(), kWhat).isOk());
      }
      return "rank 0 is gone";
    };
    return v;
  }(), &b.bell, 1, 2, 256);
  Status st = b.boards[1].run(request(CollKind::kBroadcast, nullptr, out, 2, 0), b.env(), kWhat);
  EXPECT_TRUE(rootRan);
  EXPECT_TRUE(st.isOk()) << st.message();
  EXPECT_EQ(out[0], 4);
  EXPECT_EQ(out[1], 5);
}

TEST(LocalBoard, EachRankPremultipliesItsOwnInput) {
  // PreMulSum with a different factor per rank (rank r: r + 1) and Avg:
  // sum over r of (r + 1) * in_r, the same bits on every rank.
  Boards b(3, 256);
  std::vector<std::vector<float>> out(3, std::vector<float>(2, -1));
  runRanks(3, [&](int r) {
    float in[2] = {1.0f, static_cast<float>(r)};
    CollRequest req = request(CollKind::kAllReduce, in, out[static_cast<size_t>(r)].data(), 2);
    req.reduce.preMultiply = true;
    req.reduce.scalar = r + 1;
    EXPECT_TRUE(b.boards[static_cast<size_t>(r)].run(req, b.env(), kWhat).isOk());
  });
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(out[static_cast<size_t>(r)][0], 6.0f);  // 1 + 2 + 3
    EXPECT_EQ(out[static_cast<size_t>(r)][1], 8.0f);  // 0 + 2 + 6
  }
  runRanks(3, [&](int r) {
    float in[1] = {static_cast<float>(3 * r)};
    CollRequest req = request(CollKind::kAllReduce, in, out[static_cast<size_t>(r)].data(), 1);
    req.reduce.average = true;
    EXPECT_TRUE(b.boards[static_cast<size_t>(r)].run(req, b.env(), kWhat).isOk());
  });
  for (int r = 0; r < 3; ++r) EXPECT_EQ(out[static_cast<size_t>(r)][0], 3.0f);  // (0 + 3 + 6) / 3
}

TEST(LocalBoard, AbortEndsAWait) {
  Boards b(2, 256);
  float in = 1, out = 0;
  std::thread aborter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    b.aborted = true;
  });
  const auto t0 = Clock::now();
  Status st = b.boards[0].run(request(CollKind::kAllReduce, &in, &out, 1), b.env(60000), kWhat);
  aborter.join();
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  EXPECT_EQ(st.code(), mrdRemoteError);
  EXPECT_NE(st.message().find("aborted"), std::string::npos) << st.message();
  EXPECT_LT(ms, 2000);
}

TEST(LocalBoard, InputBytesAndWhatItHandles) {
  CollRequest r = request(CollKind::kAlltoAll, nullptr, nullptr, 10);
  EXPECT_EQ(LocalBoard::inputBytes(r, 4), 160u);
  r.kind = CollKind::kAllGather;
  EXPECT_EQ(LocalBoard::inputBytes(r, 4), 40u);
  r.kind = CollKind::kReduceScatter;
  EXPECT_EQ(LocalBoard::inputBytes(r, 4), 160u);
  EXPECT_FALSE(LocalBoard::handles(CollKind::kAlltoAllv));
  EXPECT_FALSE(LocalBoard::handles(CollKind::kSend));
  EXPECT_TRUE(LocalBoard::handles(CollKind::kReduce));
  // Slots are whole cache lines: a counter line and kSlots slots.
  EXPECT_EQ(LocalBoard::areaBytes(32), 64u + LocalBoard::kSlots * 64u);
  EXPECT_EQ(LocalBoard::areaBytes(33), 64u + LocalBoard::kSlots * 128u);
}

}  // namespace
}  // namespace mrd
