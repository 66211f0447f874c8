// Relaying (link/relay_router.h): three or four ranks in one process, each
// pair joined by socket pairs (or TCP over loopback), one host each. Rank 1
// never reads its direct sockets from rank 0 (as if every path between
// them were cut): rank 0's link must judge itself cut and send its chunks
// through rank 2, rank 1 must place them and acknowledge them back the
// same way, and both ends' stats must show the relay lane. A relay that
// stops reading has its chunks sent again through another; a lone relay
// that stalls delivers once it reads again, and is not avoided after its
// timeouts. When rank 1 reads rank 0 only now and then (slow paths), the
// relay lane opens beside the paths, unless rank 1's kernel shows it is
// the peer that is slow. A relayed frame naming a rank outside the
// communicator is refused as a corrupt stream.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/mono_clock.h"
#include "link/frame.h"
#include "link/link.h"
#include "link/relay_router.h"

namespace mrd::link {
namespace {

using transport::Request;

std::vector<char> pattern(size_t n, int seed) {
  std::vector<char> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<char>((i * 131 + static_cast<size_t>(seed) * 7) & 0xff);
  return v;
}

// A connected pair of non-blocking TCP sockets over loopback (their
// kernels acknowledge and buffer what the process has not read yet, as
// across a network), with the transport's default 4 MiB socket buffers
// (MRD_SOCKET_BUF_BYTES), or false.
bool tcpPair(int sv[2]) {
  const int buf = 4 << 20;
  auto sized = [&](int fd) {
    return fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf) == 0 &&
           setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf) == 0;
  };
  const int lsn = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bool ok = sized(lsn) && bind(lsn, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(lsn, 1) == 0 &&
            getsockname(lsn, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  sv[0] = ok ? socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
  ok = ok && sized(sv[0]) && connect(sv[0], reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  sv[1] = ok ? accept4(lsn, nullptr, nullptr, SOCK_CLOEXEC) : -1;
  ok = ok && sv[1] >= 0;
  if (lsn >= 0) close(lsn);
  for (int k = 0; k < 2 && ok; ++k) ok = fcntl(sv[k], F_SETFL, fcntl(sv[k], F_GETFL) | O_NONBLOCK) == 0;
  return ok;
}

// Ranks 0..n-1 on hosts 0..n-1, each pair joined by two socket pairs (or
// TCP connections over loopback); links[i][j]: rank i's link to rank j.
struct Mesh {
  int n;
  std::vector<std::vector<std::unique_ptr<Link>>> links;
  std::vector<std::unique_ptr<RelayRouter>> routers;
  std::vector<int> rawFds;  // every socket, for tests that write by hand
  std::vector<bool> stuck;  // ranks whose links nobody moves (drive)
  // Whether drive() moves rank 1's link to rank 0 at all, and if so how
  // often (0: every round).
  bool cut = true;
  std::chrono::milliseconds rank1ReadsRank0Every{0};
  std::chrono::steady_clock::time_point rank1LastRead{};

  // downUs: MRD_PROBE_DOWN_US (cut, or slow, after 10x that).
  // cpuBusyPct: the links see tasks waiting for a CPU this share of the
  // time (MRD_PROBE_RELAY_CPU_PCT's input); -1 (the default): they learn
  // nothing, so that a busy test machine holds no relay back.
  Mesh(int ranks, bool withRouters, int relaySlowPct = 25, uint64_t downUs = 1000, bool tcp = false,
       int cpuBusyPct = -1)
      : n(ranks), links(static_cast<size_t>(ranks)), routers(static_cast<size_t>(ranks)),
        stuck(static_cast<size_t>(ranks), false) {
    LinkOptions opt;
    opt.probe.downUs = downUs;
    opt.probe.relaySlowPct = relaySlowPct;
    opt.probe.cpuWaitUs = [cpuBusyPct](uint64_t* us) {
      if (cpuBusyPct < 0) return false;
      *us = monotonicNs() / 1000 * static_cast<uint64_t>(cpuBusyPct) / 100;
      return true;
    };
    for (auto& row : links) row.resize(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      for (int j = i + 1; j < n; ++j) {
        std::vector<PathDesc> di, dj;
        for (int k = 0; k < 2; ++k) {
          int sv[2];
          if (tcp) {
            EXPECT_TRUE(tcpPair(sv));
          } else {
            EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
          }
          PathDesc x, y;
          x.fd = sv[0];
          y.fd = sv[1];
          x.rail = y.rail = k;
          x.localNic = y.remoteNic = "r" + std::to_string(i) + "n" + std::to_string(k);
          x.remoteNic = y.localNic = "r" + std::to_string(j) + "n" + std::to_string(k);
          di.push_back(x);
          dj.push_back(y);
          rawFds.push_back(sv[0]);
          rawFds.push_back(sv[1]);
        }
        at(i, j) = std::make_unique<Link>(j, i, 0, di, opt);
        at(j, i) = std::make_unique<Link>(i, j, 0, dj, opt);
      }
    }
    if (!withRouters) return;
    std::vector<int> hostOf(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) hostOf[static_cast<size_t>(i)] = i;
    for (int i = 0; i < n; ++i) {
      routers[static_cast<size_t>(i)] = std::make_unique<RelayRouter>(i, hostOf);
      for (int j = 0; j < n; ++j) {
        if (at(i, j)) at(i, j)->setRouter(routers[static_cast<size_t>(i)].get());
      }
    }
  }
  ~Mesh() {
    // (Links to a stuck rank or across the cut would linger a second
    // each for acks that never come.)
    const uint64_t closeBy = monotonicNs() + 100'000'000;
    for (auto& row : links) {
      for (auto& l : row) {
        if (!l) continue;
        l->setRouter(nullptr);
        l->closeBy(closeBy);
      }
    }
  }
  std::unique_ptr<Link>& at(int i, int j) { return links[static_cast<size_t>(i)][static_cast<size_t>(j)]; }
  // Moves every link but those of stuck ranks and rank 1's link to rank 0
  // (while `cut`, rank 1 never reads from rank 0 directly, nor answers it;
  // else only every rank1ReadsRank0Every: a slow network) until `reqs`
  // are done; a timeout error after `limit`.
  Status drive(const std::vector<Request*>& reqs, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto start = std::chrono::steady_clock::now();
    while (true) {
      for (int i = 0; i < n; ++i) {
        if (stuck[static_cast<size_t>(i)]) continue;
        for (int j = 0; j < n; ++j) {
          if (!at(i, j)) continue;
          if (i == 1 && j == 0) {
            if (cut) continue;
            const auto now = std::chrono::steady_clock::now();
            if (now - rank1LastRead < rank1ReadsRank0Every) continue;
            rank1LastRead = now;
          }
          bool moved = false;
          MRD_TRY(at(i, j)->progress(&moved));
        }
      }
      bool all = true;
      for (Request* r : reqs) all = all && r->done;
      if (all) return Status::ok();
      if (std::chrono::steady_clock::now() - start > limit) {
        return timeoutError("not done in time: rank 0 -> 1 " + at(0, 1)->describeState() +
                            " | rank 1 <- 0 " + at(1, 0)->describeState());
      }
      usleep(50);
    }
  }
};

const PathStats* relayLane(const std::vector<PathStats>& stats) {
  for (const PathStats& s : stats) {
    if (s.rail == -1) return &s;
  }
  return nullptr;
}

// Sends `bytes` from rank 0 to rank 1 (driven as the mesh says) and checks
// them; what rank 0's relay lane to rank 1 carried meanwhile.
uint64_t sendOneMessage(Mesh& t, size_t bytes, uint64_t seq, int seed) {
  std::vector<char> out = pattern(bytes, seed), in(bytes, 0);
  Request s{seq, out.data(), out.size()}, r{seq, in.data(), in.size()};
  std::vector<PathStats> before, after;
  t.at(0, 1)->stats(&before);
  EXPECT_TRUE(t.at(0, 1)->postSend(&s).isOk());
  EXPECT_TRUE(t.at(1, 0)->postRecv(&r).isOk());
  Status st = t.drive({&s, &r}, std::chrono::seconds(30));
  EXPECT_TRUE(st.isOk()) << st.message();
  EXPECT_TRUE(in == out) << "message " << seq << " arrived damaged";
  t.at(0, 1)->stats(&after);
  const PathStats* b = relayLane(before);
  const PathStats* a = relayLane(after);
  return (a != nullptr ? a->bytesSent : 0) - (b != nullptr ? b->bytesSent : 0);
}

// Rank 0's relay lane to rank 1 after a relayed message: the relay it used
// last, and chunks that timed out at a relay and went again.
void expectRelayed(Mesh& t, const std::string& via, const char* noResends) {
  std::vector<PathStats> sent;
  t.at(0, 1)->stats(&sent);
  const PathStats* lane = relayLane(sent);
  ASSERT_NE(lane, nullptr);
  EXPECT_EQ(lane->remoteNic, via);
  EXPECT_GT(lane->resends, 0u) << noResends;
}

TEST(LinkRelay, ACutLinkSendsThroughAThirdRankAndTheMessagesArriveWhole) {
  Mesh t(3, true);
  // Several messages: large ones (acked chunk by chunk), a small eager one,
  // an empty one.
  const std::vector<size_t> sizes = {3 << 20, 100, 0, 5 * kChunkBytes + 7};
  std::vector<std::vector<char>> out, in;
  std::vector<Request> sends(sizes.size()), recvs(sizes.size());
  std::vector<Request*> all;
  for (size_t i = 0; i < sizes.size(); ++i) {
    out.push_back(pattern(sizes[i], static_cast<int>(i)));
    in.emplace_back(sizes[i], 0);
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    sends[i] = Request{i, out[i].data(), sizes[i]};
    recvs[i] = Request{i, in[i].data(), sizes[i]};
    ASSERT_TRUE(t.links[0][1]->postSend(&sends[i]).isOk());
    ASSERT_TRUE(t.links[1][0]->postRecv(&recvs[i]).isOk());
    all.push_back(&sends[i]);
    all.push_back(&recvs[i]);
  }
  Status st = t.drive(all);
  ASSERT_TRUE(st.isOk()) << st.message();
  for (size_t i = 0; i < sizes.size(); ++i) EXPECT_EQ(in[i], out[i]) << "message " << i << " of " << sizes[i] << " bytes";
  EXPECT_TRUE(t.links[0][1]->cut());
  std::vector<PathStats> sent, received;
  t.links[0][1]->stats(&sent);
  t.links[1][0]->stats(&received);
  const PathStats* lane = relayLane(sent);
  ASSERT_NE(lane, nullptr) << "rank 0's stats have no relay lane";
  EXPECT_GT(lane->bytesSent, 0u);
  EXPECT_EQ(lane->remoteNic, "via rank 2");
  EXPECT_EQ(lane->state, probe::PathState::kHealthy);  // in use
  const PathStats* got = relayLane(received);
  ASSERT_NE(got, nullptr) << "rank 1's stats have no relay lane";
  EXPECT_GT(got->bytesReceived, 0u);
  // Every direct path was judged down with the cut.
  for (const PathStats& s : sent) {
    if (s.rail >= 0) {
      EXPECT_EQ(s.state, probe::PathState::kDown) << "path on rail " << s.rail;
    }
  }
}

// Four hosts: ranks 2 and 3 can both relay for the cut link 0 -> 1, but
// rank 2 is stuck (its process never reads its sockets): the chunks handed
// to it go unacknowledged, are sent again after the relay timeout through
// rank 3, and rank 2 is avoided from then on.
TEST(LinkRelay, ChunksStuckAtARelayAreSentAgainThroughAnother) {
  Mesh t(4, true);
  t.stuck[2] = true;
  std::vector<char> out = pattern(2 << 20, 11), in(2 << 20, 0);
  Request s{0, out.data(), out.size()}, r{0, in.data(), in.size()};
  ASSERT_TRUE(t.at(0, 1)->postSend(&s).isOk());
  ASSERT_TRUE(t.at(1, 0)->postRecv(&r).isOk());
  Status st = t.drive({&s, &r});
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_EQ(in, out);
  expectRelayed(t, "via rank 3", "no chunk was handed to the stuck relay: the test proves nothing");
}

// Rank 2, the only relay, stops for a while (its rank busy elsewhere for
// 300 ms, six relay timeouts) while rank 0 sends `bytes` to rank 1 over
// the cut; how long the message then takes once rank 2 reads again (the
// cut never heals). -1 ms: it failed (a test failure is recorded).
std::chrono::milliseconds stallTheLoneRelay(Mesh& t, size_t bytes, int seed) {
  std::vector<char> out = pattern(bytes, seed), in(bytes, 0);
  Request s{0, out.data(), out.size()}, r{0, in.data(), in.size()};
  EXPECT_TRUE(t.at(0, 1)->postSend(&s).isOk());
  EXPECT_TRUE(t.at(1, 0)->postRecv(&r).isOk());
  t.stuck[2] = true;
  Status st = t.drive({&s, &r}, std::chrono::milliseconds(300));
  EXPECT_FALSE(st.isOk()) << "done without the only relay";
  EXPECT_TRUE(t.at(0, 1)->cut());
  t.stuck[2] = false;
  const auto back = std::chrono::steady_clock::now();
  st = t.drive({&s, &r}, std::chrono::seconds(5));
  EXPECT_TRUE(st.isOk()) << st.message();
  EXPECT_TRUE(in == out) << "the message arrived damaged";
  if (!st.isOk()) return std::chrono::milliseconds(-1);
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - back);
}

// A 1 MiB message: it completes soon after the relay reads again, not when
// the cut heals. (The copies it held get through then; this does not tell
// which of them, nor whether the resends went through it or to the cut
// paths.)
TEST(LinkRelay, ALoneRelayThatStallsDeliversOnceItReadsAgain) {
  Mesh t(3, true);
  const auto took = stallTheLoneRelay(t, 1 << 20, 12);
  EXPECT_GE(took.count(), 0);
  EXPECT_LT(took.count(), 800);
  expectRelayed(t, "via rank 2", "nothing timed out at the stalled relay");
}

// The same with a message four times the relay window: when the lone
// relay stalls, most chunks are not yet handed to it. They must still go
// through it once it reads again, not wait on the cut paths because its
// timeouts had it avoided (a relay is avoided only when another exists).
// (18-24 ms here; 769 ms when the lone relay was avoided for its 1 s.)
TEST(LinkRelay, ALoneRelayIsNotAvoidedAfterItStalls) {
  Mesh t(3, true);
  const auto took = stallTheLoneRelay(t, 8 << 20, 13);
  EXPECT_GE(took.count(), 0);
  EXPECT_LT(took.count(), 400) << took.count() << " ms";
}

// The relay's rank closes its communicator right after rank 0 handed it
// small (eager: already reported done) sends for rank 1: what it read is
// passed on before its links close (drainRelays), not dropped as frames
// arriving at a closing link are.
TEST(LinkRelay, ARelayThatClosesPassesOnWhatItHoldsFirst) {
  Mesh t(3, true);
  const size_t kMsgs = 3;
  std::vector<std::vector<char>> out, in;
  std::vector<Request> sends(kMsgs), recvs(kMsgs);
  std::vector<Request*> toRank1;
  for (size_t i = 0; i < kMsgs; ++i) {
    out.push_back(pattern(100 + i, static_cast<int>(20 + i)));
    in.emplace_back(100 + i, 0);
  }
  for (size_t i = 0; i < kMsgs; ++i) {
    sends[i] = Request{i, out[i].data(), out[i].size()};
    recvs[i] = Request{i, in[i].data(), in[i].size()};
    ASSERT_TRUE(t.at(0, 1)->postSend(&sends[i]).isOk());
    ASSERT_TRUE(t.at(1, 0)->postRecv(&recvs[i]).isOk());
    toRank1.push_back(&recvs[i]);
  }
  // Only rank 0 moves: its link to rank 1 hears nothing, judges itself cut
  // and writes the chunks to rank 2, which has not read them yet.
  const auto start = std::chrono::steady_clock::now();
  bool moved = false;
  while (!(t.at(0, 1)->cut() && t.at(0, 1)->relayOwed() && t.at(0, 2)->relayQueuedBytes() == 0)) {
    ASSERT_TRUE(t.at(0, 1)->progress(&moved).isOk());
    ASSERT_TRUE(t.at(0, 2)->progress(&moved).isOk());
    ASSERT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << t.at(0, 1)->describeState();
    usleep(100);
  }
  for (size_t i = 0; i < kMsgs; ++i) EXPECT_TRUE(sends[i].done) << "eager send " << i;
  // Rank 2 closes: relaying first, then its links go.
  std::vector<Link*> rank2;
  for (int j = 0; j < 3; ++j) {
    if (t.at(2, j)) rank2.push_back(t.at(2, j).get());
  }
  drainRelays(rank2, monotonicNs() + 1'000'000'000);
  for (int j = 0; j < 3; ++j) {
    if (!t.at(2, j)) continue;
    t.at(2, j)->setRouter(nullptr);
    t.at(2, j)->closeBy(monotonicNs() + 100'000'000);
    t.at(2, j).reset();
  }
  // Rank 1 finds them in its socket from rank 2.
  Status st = t.drive(toRank1, std::chrono::seconds(3));
  ASSERT_TRUE(st.isOk()) << st.message();
  for (size_t i = 0; i < kMsgs; ++i) EXPECT_EQ(in[i], out[i]) << "message " << i;
}

// How often rank 1 reads rank 0's paths in the slow-path tests. Each read
// takes what a socket pair holds (~230 KB by default), so the slow rate is
// about 2 x 230 KB per interval; the link calls that slow below 25% of
// the healthy message's rate, which is CPU-bound (a one-thread mesh: 275
// MB/s on a 2-core machine of 2026-12, more elsewhere). 15 ms gives ~30
// MB/s, below the bar with room; 5 ms (~90 MB/s) passed only where the
// healthy rate was above ~360 MB/s. Cut after 50 ms of silence: a 15 ms
// reader stays clear of that too.
constexpr std::chrono::milliseconds kSlowReaderEvery{15};

// Every path between ranks 0 and 1 alive but slow (rank 1 reads them only
// every kSlowReaderEvery; over socket pairs nothing waits unread in a
// kernel, so to the sender this is what a slow network looks like): after
// a message at full speed (which must not relay: a healthy link keeps to
// its paths), rank 0's link opens its relay lane beside the paths, rank 2
// carries a good share of the next message, the paths still theirs, and
// it arrives whole. (Slow after 50 ms, cut after 50 ms of silence.)
TEST(LinkRelay, SlowPathsGetARelayLaneBesideThem) {
  Mesh t(3, true, 25, 5000);
  t.cut = false;
  EXPECT_EQ(sendOneMessage(t, 8 << 20, 0, 30), 0u) << "a healthy link relayed";
  EXPECT_FALSE(t.at(0, 1)->assisted());
  t.rank1ReadsRank0Every = kSlowReaderEvery;
  const size_t bytes = 16 << 20;
  const uint64_t relayed = sendOneMessage(t, bytes, 1, 31);
  EXPECT_TRUE(t.at(0, 1)->assisted()) << t.at(0, 1)->describeState();
  EXPECT_FALSE(t.at(0, 1)->cut());
  EXPECT_GE(relayed, bytes / 4) << "the relay lane carried " << relayed << " of " << bytes << " bytes";
  EXPECT_LT(relayed, bytes) << "the slow paths carried nothing";
}

// The slow paths of SlowPathsGetARelayLaneBesideThem while tasks wait for
// a CPU 90% of the time (MRD_PROBE_RELAY_CPU_PCT 75): the CPU is short,
// not the network; no relay, and the link says it held the lane back. The
// twin at 10% relays: the pressure is what holds it back.
struct CpuRun {
  uint64_t relayed = 0, heldBack = 0;
};

CpuRun slowPathsWithCpuBusy(int busyPct, int seed) {
  Mesh t(3, true, 25, 5000, false, busyPct);
  t.cut = false;
  EXPECT_EQ(sendOneMessage(t, 8 << 20, 0, seed), 0u) << "a healthy link relayed";
  t.rank1ReadsRank0Every = kSlowReaderEvery;
  CpuRun r;
  r.relayed = sendOneMessage(t, 16 << 20, 1, seed + 1);
  r.heldBack = t.at(0, 1)->cpuHeldBack();
  EXPECT_FALSE(t.at(0, 1)->cut());
  return r;
}

TEST(LinkRelay, SlowPathsOnAMachineShortOfCpuKeepTheirChunks) {
  const CpuRun r = slowPathsWithCpuBusy(90, 40);
  EXPECT_EQ(r.relayed, 0u);
  EXPECT_GT(r.heldBack, 0u) << "never judged slow: the test proves nothing";
}

TEST(LinkRelay, SlowPathsOnAMachineWithCpuToSpareRelay) {
  const CpuRun r = slowPathsWithCpuBusy(10, 42);
  EXPECT_GE(r.relayed, uint64_t{16 << 20} / 4);
  EXPECT_EQ(r.heldBack, 0u);
}

// The same with MRD_PROBE_RELAY_SLOW_PCT=0: slow paths keep every chunk
// (relaying is for cut links only), and the message still arrives.
TEST(LinkRelay, SlowPathsKeepTheirChunksWhenRelayingIsForCutsOnly) {
  Mesh t(3, true, 0, 5000);
  t.cut = false;
  EXPECT_EQ(sendOneMessage(t, 8 << 20, 0, 32), 0u);
  t.rank1ReadsRank0Every = kSlowReaderEvery;
  EXPECT_EQ(sendOneMessage(t, 4 << 20, 1, 33), 0u);
  EXPECT_FALSE(t.at(0, 1)->assisted());
}

// A slower reader (every 40 ms) over TCP: now the peer's kernel
// acknowledges and holds what rank 1 has not read yet. A busy peer, not a
// slow network: a third host would not help, and the link must not relay.
// (Slow and cut after 100 ms.)
TEST(LinkRelay, APeerThatReadsLateIsNotASlowNetwork) {
  Mesh t(3, true, 25, 10000, /*tcp=*/true);
  t.cut = false;
  EXPECT_EQ(sendOneMessage(t, 8 << 20, 0, 34), 0u);
  t.rank1ReadsRank0Every = std::chrono::milliseconds(40);
  EXPECT_EQ(sendOneMessage(t, 8 << 20, 1, 35), 0u) << t.at(0, 1)->describeState();
  EXPECT_FALSE(t.at(0, 1)->assisted());
}

// An operation ends (its eager sends all written) with frames stuck in
// sockets the cut network does not drain. A link that may relay must not
// hold the end-of-operation flush until the network heals (it did, and
// for TCP's back-off after it: a 5 s operation in the 3-host netns cut
// test): it is moved between operations anyway, and the next moves judge
// the cut and take everything to rank 1 through rank 2.
TEST(LinkRelay, AFlushStuckBehindACutEndsAndTheCutIsJudgedLater) {
  Mesh t(3, true, 25, 5000);  // cut after 50 ms: the operation below stays clear of it
  constexpr size_t kMsgs = 12;  // 12 x 64 KiB: more than two socket pairs hold
  std::vector<std::vector<char>> out, in;
  std::vector<Request> sends(kMsgs), recvs(kMsgs);
  for (size_t i = 0; i < kMsgs; ++i) {
    out.push_back(pattern(kEagerBytes, static_cast<int>(i)));
    in.emplace_back(kEagerBytes, 0);
    sends[i] = Request{i, out[i].data(), kEagerBytes};
    recvs[i] = Request{i, in[i].data(), kEagerBytes};
    ASSERT_TRUE(t.links[0][1]->postSend(&sends[i]).isOk());
  }
  // The operation: rank 0 writes what its sockets take (well within the
  // cut's 50 ms), as an executor would.
  for (int r = 0; r < 50; ++r) {
    bool moved = false;
    ASSERT_TRUE(t.links[0][1]->progress(&moved).isOk());
  }
  ASSERT_TRUE(sends[0].done) << "nothing written: " << t.links[0][1]->describeState();
  ASSERT_FALSE(sends[kMsgs - 1].done) << "all written: the sockets never filled";
  ASSERT_FALSE(t.links[0][1]->cut()) << "judged cut during the operation: the flush is not what is tested";
  // Its end: the flush is done at once, with frames still stuck.
  ASSERT_NE(t.links[0][1]->describeState().find(", writing"), std::string::npos)
      << "no frame half-written: the test proves nothing: " << t.links[0][1]->describeState();
  bool idle = false;
  ASSERT_TRUE(t.links[0][1]->flush(&idle).isOk());
  EXPECT_TRUE(idle) << "the flush waits for a network that takes nothing: " << t.links[0][1]->describeState();
  // Later moves (the progress thread, the next operation) judge the cut;
  // rank 1 gets every message, through rank 2.
  std::vector<Request*> all;
  for (size_t i = 0; i < kMsgs; ++i) {
    ASSERT_TRUE(t.links[1][0]->postRecv(&recvs[i]).isOk());
    all.push_back(&sends[i]);
    all.push_back(&recvs[i]);
  }
  Status st = t.drive(all);
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_TRUE(t.links[0][1]->cut());
  for (size_t i = 0; i < kMsgs; ++i) EXPECT_EQ(in[i], out[i]) << "message " << i;
}

TEST(LinkRelay, WithoutARouterACutLinkOnlyWaits) {
  // The same cut with relaying off: nothing reaches rank 1 (the test above
  // is not passing by some other way around the cut).
  Mesh t(3, false);
  std::vector<char> out = pattern(1 << 20, 3), in(1 << 20, 0);
  Request s{0, out.data(), out.size()}, r{0, in.data(), in.size()};
  ASSERT_TRUE(t.links[0][1]->postSend(&s).isOk());
  ASSERT_TRUE(t.links[1][0]->postRecv(&r).isOk());
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(200)) {
    bool moved = false;
    ASSERT_TRUE(t.links[0][1]->progress(&moved).isOk());
    ASSERT_TRUE(t.links[0][2]->progress(&moved).isOk());
    ASSERT_TRUE(t.links[2][1]->progress(&moved).isOk());
    usleep(50);
  }
  EXPECT_FALSE(r.done);
  EXPECT_FALSE(s.done);
  EXPECT_FALSE(t.links[0][1]->cut());
}

TEST(LinkRelay, ARelayedFrameNamingAnUnknownRankIsAnError) {
  Mesh t(3, true);
  // Written by hand on rank 2's end of the 0 <-> 2 link's first path (fd
  // index: pairs in the order (0,1) x2, (0,2) x2, (1,2) x2; odd = rank j's end).
  const int rank2End = t.rawFds[5];  // (0,2), path 0, rank 2's end
  std::vector<char> body(sizeof(Frame) + 8, 0);
  const Frame inner{kFrameData, 8, 0, 0, 8, 0};
  std::memcpy(body.data(), &inner, sizeof inner);
  const Frame outer{kFrameRelay, static_cast<uint32_t>(body.size()), 7, 2, 0, 0};  // to rank 7 of 3
  ASSERT_EQ(write(rank2End, &outer, sizeof outer), static_cast<ssize_t>(sizeof outer));
  ASSERT_EQ(write(rank2End, body.data(), body.size()), static_cast<ssize_t>(body.size()));
  Status st;
  for (int i = 0; i < 100 && st.isOk(); ++i) {
    bool moved = false;
    st = t.links[0][2]->progress(&moved);
  }
  ASSERT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("corrupt stream"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("to rank 7"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace mrd::link
