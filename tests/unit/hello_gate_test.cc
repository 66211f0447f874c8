// The hello gate in front of a rank's listeners (bootstrap ring, TCP data
// connections): strangers that say nothing, send half a hello, garbage, a
// huge or wrong hello, or flood it, are each refused and logged, and the
// real peer behind them is let in at once, not after their deadlines.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/hello_gate.h"
#include "bootstrap/socket.h"

namespace mrd::net {
namespace {

struct TestHello {
  uint32_t magic;
  uint32_t rank;
  char secret[8];
};
constexpr uint32_t kMagic = 0x48454c4f;

std::string judge(const void* bytes) {
  TestHello h;
  std::memcpy(&h, bytes, sizeof h);
  if (h.magic != kMagic) return "bad magic";
  if (std::memcmp(h.secret, "s3cr3t!", 8) != 0) return "wrong secret";
  if (h.rank > 7) return "rank out of range";
  return "";
}

class HelloGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SockAddr any;
    ASSERT_TRUE(resolveHost("127.0.0.1", 0, &any).isOk());
    ASSERT_TRUE(listenOn(any, 1024, &listenFd_, &bound_).isOk());
  }
  void TearDown() override {
    for (int& fd : clients_) closeFd(&fd);
    closeFd(&listenFd_);
  }
  int connectClient() {
    int fd = -1;
    EXPECT_TRUE(connectTo(bound_, Deadline::in(std::chrono::seconds(5)), &fd).isOk());
    clients_.push_back(fd);
    return fd;
  }
  void sendRaw(int fd, const void* p, size_t n) {
    EXPECT_TRUE(sendAll(fd, p, n, Deadline::in(std::chrono::seconds(5))).isOk());
  }
  static TestHello good(uint32_t rank) {
    TestHello h{kMagic, rank, {}};
    std::memcpy(h.secret, "s3cr3t!", 8);
    return h;
  }
  // Whether the gate closed its end (the client reads EOF or a reset).
  static bool closedByGate(int fd) {
    char c;
    for (int i = 0; i < 200; ++i) {
      const ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
      usleep(5000);
    }
    return false;
  }

  int listenFd_ = -1;
  SockAddr bound_;
  std::vector<int> clients_;
};

TEST_F(HelloGateTest, StrangersAreRefusedAndThePeerBehindThemGetsInAtOnce) {
  HelloGate gate({listenFd_}, sizeof(TestHello), "test gate", log::Subsys::kNet, judge);
  // 50 that say nothing, one with half a hello then silence, one that
  // closes after a few bytes, garbage, a wrong secret, an impossible rank,
  // and a megabyte of junk.
  std::vector<int> silent;
  for (int i = 0; i < 50; ++i) silent.push_back(connectClient());
  TestHello h = good(3);
  const int half = connectClient();
  sendRaw(half, &h, sizeof h / 2);
  const int shortClose = connectClient();
  sendRaw(shortClose, &h, 3);
  shutdown(shortClose, SHUT_WR);
  const int garbage = connectClient();
  const char junk[sizeof(TestHello)] = {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P'};
  sendRaw(garbage, junk, sizeof junk);
  const int wrongSecret = connectClient();
  TestHello ws = good(1);
  std::memcpy(ws.secret, "guessed", 8);
  sendRaw(wrongSecret, &ws, sizeof ws);
  const int badRank = connectClient();
  TestHello br = good(1 << 30);
  sendRaw(badRank, &br, sizeof br);
  const int huge = connectClient();
  std::vector<char> mb(1 << 20, '\xff');
  (void)send(huge, mb.data(), mb.size(), MSG_DONTWAIT);  // as much as the kernel takes
  const int peer = connectClient();
  sendRaw(peer, &h, sizeof h);

  const auto t0 = std::chrono::steady_clock::now();
  int fd = -1;
  TestHello got{};
  ASSERT_TRUE(gate.next(Deadline::in(std::chrono::seconds(10)), &fd, &got).isOk());
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(ms, 1000) << "the peer waited behind the strangers";
  EXPECT_EQ(got.rank, 3u);
  // Its socket is the peer's connection: bytes go through.
  const char ping = 'p';
  ASSERT_EQ(send(peer, &ping, 1, 0), 1);
  char pong = 0;
  for (int i = 0; i < 200 && recv(fd, &pong, 1, MSG_DONTWAIT) != 1; ++i) usleep(5000);
  EXPECT_EQ(pong, 'p');
  closeFd(&fd);
  // Refused and closed: the short one, the garbage, the wrong secret, the
  // impossible rank, the junk (its first bytes are a bad hello).
  EXPECT_GE(gate.refused(), 5u);
  for (int c : {shortClose, garbage, wrongSecret, badRank, huge}) EXPECT_TRUE(closedByGate(c)) << "client fd " << c;
  // The silent ones and the half hello still wait (within their 5 s).
  EXPECT_FALSE(closedByGate(half));
}

TEST_F(HelloGateTest, ASilentStrangerIsDroppedAtItsDeadline) {
  HelloGate gate({listenFd_}, sizeof(TestHello), "test gate", log::Subsys::kNet, judge);
  const int silent = connectClient();
  int fd = -1;
  TestHello got{};
  const auto t0 = std::chrono::steady_clock::now();
  const Status st = gate.next(Deadline::in(HelloGate::kHelloWithin + std::chrono::milliseconds(700)), &fd, &got);
  EXPECT_EQ(st.code(), mrdTimeout) << st.message();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, HelloGate::kHelloWithin);
  EXPECT_EQ(gate.refused(), 1u);
  EXPECT_TRUE(closedByGate(silent));
}

TEST_F(HelloGateTest, AFloodDropsTheLongestWaitingAndTheNewPeerGetsIn) {
  HelloGate gate({listenFd_}, sizeof(TestHello), "test gate", log::Subsys::kNet, judge);
  // More silent connections than the gate holds: it must not run out of
  // room (or descriptors) for the peer.
  for (size_t i = 0; i < HelloGate::kMaxPending + 40; ++i) connectClient();
  const int peer = connectClient();
  TestHello h = good(5);
  sendRaw(peer, &h, sizeof h);
  int fd = -1;
  TestHello got{};
  ASSERT_TRUE(gate.next(Deadline::in(std::chrono::seconds(3)), &fd, &got).isOk());
  EXPECT_EQ(got.rank, 5u);
  EXPECT_GE(gate.refused(), 40u);
  closeFd(&fd);
}

TEST_F(HelloGateTest, AbortEndsTheWait) {
  std::atomic<bool> abort{false};
  HelloGate gate({listenFd_}, sizeof(TestHello), "test gate", log::Subsys::kNet, judge);
  std::thread t([&] {
    usleep(200000);
    abort.store(true);
  });
  int fd = -1;
  TestHello got{};
  const Status st = gate.next(Deadline::in(std::chrono::seconds(30), &abort), &fd, &got);
  t.join();
  EXPECT_EQ(st.code(), mrdRemoteError) << st.message();
}

}  // namespace
}  // namespace mrd::net
