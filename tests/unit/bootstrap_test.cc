// The bootstrap root must refuse garbage, wrong secrets and truncated or
// stalled hellos with a log line, and still serve the real ranks at once.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>

#include <chrono>
#include <functional>
#include <cstring>
#include <thread>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "bootstrap/root.h"
#include "bootstrap/socket.h"
#include "meridian/meridian.h"

namespace mrd::bootstrap {
namespace {

using namespace std::chrono_literals;

net::SockAddr rootOf(const mrdUniqueId& id) {
  IdPayload p;
  EXPECT_TRUE(decodeUniqueId(id, &p).isOk());
  return fromWire(p.root);
}

int rawConnect(const net::SockAddr& a) {
  int fd = -1;
  EXPECT_TRUE(net::connectTo(a, net::Deadline::in(2s), &fd).isOk());
  return fd;
}

// Joins n ranks as threads; returns how many succeeded.
int joinAll(const mrdUniqueId& id, int n, int timeoutMs, std::vector<Status>* out = nullptr) {
  std::vector<Status> st(static_cast<size_t>(n));
  std::vector<std::thread> th;
  std::vector<std::unique_ptr<Bootstrap>> bs(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) {
    th.emplace_back([&, r] {
      st[static_cast<size_t>(r)] =
          Bootstrap::create(id, r, n, timeoutMs, nullptr, &bs[static_cast<size_t>(r)]);
    });
  }
  for (auto& t : th) t.join();
  int ok = 0;
  for (auto& s : st) ok += s.isOk() ? 1 : 0;
  if (out != nullptr) *out = st;
  return ok;
}

TEST(Bootstrap, GarbageWrongSecretAndStalledClientsDoNotStopTheRanks) {
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess);
  net::SockAddr root = rootOf(id);

  int garbage = rawConnect(root);
  const char junk[] = "GET / HTTP/1.0\r\n\r\n";
  send(garbage, junk, sizeof junk, MSG_NOSIGNAL);

  int wrongSecret = rawConnect(root);
  Hello h{};
  h.magic = kHelloMagic;
  h.version = kWireVersion;
  h.rank = 0;
  h.nranks = 2;
  send(wrongSecret, &h, sizeof h, MSG_NOSIGNAL);

  int stalled = rawConnect(root);  // says nothing at all
  int truncated = rawConnect(root);
  send(truncated, &h, sizeof h / 2, MSG_NOSIGNAL);

  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(joinAll(id, 3, 5000), 3);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s) << "a hostile client stalled the root";
  for (int fd : {garbage, wrongSecret, stalled, truncated}) close(fd);
}

TEST(Bootstrap, AFloodOfSilentConnectionsDoesNotLockTheRanksOut) {
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess);
  net::SockAddr root = rootOf(id);
  // More than the root keeps waiting for a hello (256).
  std::vector<int> silent;
  for (int i = 0; i < 400; ++i) silent.push_back(rawConnect(root));
  std::this_thread::sleep_for(300ms);  // the root has accepted them all
  // It holds at most 256 of them: the oldest were closed (before the ranks
  // come: once they are done the root ends and closes the rest).
  int closedByRoot = 0;
  char c;
  for (int fd : silent) closedByRoot += recv(fd, &c, 1, MSG_DONTWAIT) == 0 ? 1 : 0;
  EXPECT_GE(closedByRoot, 400 - 256);
  EXPECT_LT(closedByRoot, 400);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(joinAll(id, 3, 5000), 3);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  for (int fd : silent) close(fd);
}

// Hellos with the right secret but impossible contents: refused, and the
// sender told why; the real ranks join.
TEST(Bootstrap, HellosWithBadRanksOrAddressesAreRefusedWithAReason) {
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess);
  IdPayload payload;
  ASSERT_TRUE(decodeUniqueId(id, &payload).isOk());
  auto base = [&] {
    Hello h{};
    h.magic = kHelloMagic;
    h.version = kWireVersion;
    h.secret = payload.secret;
    h.rank = h.info.rank = 1;
    h.nranks = 2;
    h.info.addr.ss_family = AF_INET;
    h.info.addrLen = sizeof(sockaddr_in);
    return h;
  };
  struct Case {
    const char* want;
    std::function<void(Hello*)> spoil;
  };
  const std::vector<Case> cases = {
      {"nranks -3 out of range", [](Hello* h) { h->nranks = -3; }},
      {"nranks 2147483647 out of range", [](Hello* h) { h->nranks = 2147483647; }},
      {"rank 5 (its entry says 1) of 2", [](Hello* h) { h->rank = 5; }},
      {"rank 1 (its entry says 0) of 2", [](Hello* h) { h->info.rank = 0; }},
      {"listen address length 4096", [](Hello* h) { h->info.addrLen = 4096; }},
      {"listen address of family 1 ", [](Hello* h) { h->info.addr.ss_family = AF_UNIX; }},
  };
  for (const Case& c : cases) {
    int fd = rawConnect(rootOf(id));
    Hello h = base();
    c.spoil(&h);
    ASSERT_EQ(send(fd, &h, sizeof h, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof h));
    Reply rep{};
    ASSERT_TRUE(net::recvAll(fd, &rep, sizeof rep, net::Deadline::in(3s)).isOk()) << c.want;
    EXPECT_EQ(rep.result, mrdInvalidUsage) << c.want;
    rep.message[sizeof rep.message - 1] = '\0';
    EXPECT_NE(std::string(rep.message).find(c.want), std::string::npos) << rep.message;
    close(fd);
  }
  EXPECT_EQ(joinAll(id, 2, 5000), 2);
}

TEST(Bootstrap, OversizedHelloIsIgnoredBeyondItsEnd) {
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess);
  int fd = rawConnect(rootOf(id));
  std::vector<char> big(1 << 20, 'x');
  send(fd, big.data(), big.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  EXPECT_EQ(joinAll(id, 2, 5000), 2);
  close(fd);
}

TEST(Bootstrap, MismatchedNranksFailsEveryoneQuickly) {
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess);
  std::vector<Status> st(2);
  std::vector<std::unique_ptr<Bootstrap>> bs(2);
  auto t0 = std::chrono::steady_clock::now();
  std::thread a([&] { st[0] = Bootstrap::create(id, 0, 2, 5000, nullptr, &bs[0]); });
  std::thread b([&] { st[1] = Bootstrap::create(id, 1, 3, 5000, nullptr, &bs[1]); });
  a.join();
  b.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  for (auto& s : st) {
    EXPECT_EQ(s.code(), mrdInvalidUsage) << s.message();
    EXPECT_NE(s.message().find("mismatched"), std::string::npos) << s.message();
  }
}

TEST(Bootstrap, AllgatherAndBarrierAcrossRanks) {
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess);
  const int n = 5;
  std::vector<std::unique_ptr<Bootstrap>> bs(n);
  std::vector<std::thread> th;
  std::vector<int> bad(n, 0);
  for (int r = 0; r < n; ++r) {
    th.emplace_back([&, r] {
      if (!Bootstrap::create(id, r, n, 5000, nullptr, &bs[r]).isOk()) {
        bad[r] = 1;
        return;
      }
      std::vector<int64_t> v(n, -1);
      v[r] = 100 + r;
      if (!bs[r]->allgather(v.data(), sizeof(int64_t)).isOk()) bad[r] = 2;
      for (int i = 0; i < n; ++i) {
        if (v[i] != 100 + i) bad[r] = 3;
      }
      if (!bs[r]->barrier().isOk()) bad[r] = 4;
      if (!bs[r]->sameHost(r, (r + 1) % n)) bad[r] = 5;
    });
  }
  for (auto& t : th) t.join();
  for (int r = 0; r < n; ++r) EXPECT_EQ(bad[r], 0) << "rank " << r;
}

TEST(Bootstrap, NoRootMeansTimeoutNotHang) {
  mrdUniqueId id;
  // A pinned id at a port where nobody listens, joined by a rank other than 0.
  ASSERT_TRUE(pinnedUniqueId("127.0.0.1", 1, &id).isOk());
  std::unique_ptr<Bootstrap> b;
  auto t0 = std::chrono::steady_clock::now();
  Status st = Bootstrap::create(id, 1, 2, 300, nullptr, &b);
  EXPECT_FALSE(st.isOk());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST(Bootstrap, BadUniqueIdIsRejected) {
  mrdUniqueId id;
  std::memset(&id, 0xab, sizeof id);
  std::unique_ptr<Bootstrap> b;
  EXPECT_EQ(Bootstrap::create(id, 0, 1, 1000, nullptr, &b).code(), mrdInvalidArgument);
}

}  // namespace
}  // namespace mrd::bootstrap
