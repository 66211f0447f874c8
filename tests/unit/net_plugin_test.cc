// Network plug-ins (include/meridian/meridian_net.h):
//  - the example plug-in, opened with dlopen and driven through its table:
//    the non-blocking listen/connect/accept handshake, messages of several
//    tags and sizes (0 bytes to a few MiB), a full request pool, mismatches,
//    a peer that closes, a bad handle;
//  - the loader's error paths (no such file, no symbol, init failing);
//  - the adapter transport between two ranks (threads): data, a size
//    mismatch naming the peer, abort making the peer fail fast;
//  - NetPluginInit.*: communicator init with a broken MRD_NET_PLUGIN fails
//    with a clear error (only runs under the environment tests/CMakeLists.txt
//    gives it; skipped otherwise).
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "config/params.h"
#include "meridian/meridian_net.h"
#include "support/thread_ranks.h"
#include "transports/plugin/net_plugin_loader.h"
#include "transports/plugin/net_plugin_transport.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

void quietLogger(mrdNetLogLevel_t level, const char* file, int line, const char* fmt, ...) {
  (void)level;
  (void)file;
  (void)line;
  (void)fmt;
}

// The example plug-in's table, opened once for the process.
const mrdNet_v1_t* example() {
  static const mrdNet_v1_t* net = [] {
    void* dl = dlopen(MRD_NET_EXAMPLE_PATH, RTLD_NOW | RTLD_LOCAL);
    if (dl == nullptr) return static_cast<const mrdNet_v1_t*>(nullptr);
    auto* n = static_cast<const mrdNet_v1_t*>(dlsym(dl, MRD_NET_PLUGIN_SYMBOL_V1));
    if (n != nullptr && n->init(quietLogger) != mrdSuccess)
      return static_cast<const mrdNet_v1_t*>(nullptr);
    return n;
  }();
  return net;
}

// A connected pair: send on `send`, receive on `recv`.
struct Pair {
  const mrdNet_v1_t* net = nullptr;
  void* listen = nullptr;
  void* send = nullptr;
  void* recv = nullptr;
  bool connectWasPending = false;  // connect() returned a NULL comm at least once
  bool acceptWasPending = false;

  ~Pair() { close(); }
  void close() {
    if (send != nullptr) net->closeSend(send);
    if (recv != nullptr) net->closeRecv(recv);
    if (listen != nullptr) net->closeListen(listen);
    send = recv = listen = nullptr;
  }
};

// listen, then connect and accept in one non-blocking loop (5 s deadline).
void makePair(Pair* p) {
  p->net = example();
  ASSERT_NE(p->net, nullptr) << "cannot open " << MRD_NET_EXAMPLE_PATH << ": " << dlerror();
  char handle[MRD_NET_HANDLE_MAXSIZE];
  ASSERT_EQ(p->net->listen(0, handle, &p->listen), mrdSuccess);
  ASSERT_NE(p->listen, nullptr);
  const auto deadline = Clock::now() + 5s;
  while (p->send == nullptr || p->recv == nullptr) {
    ASSERT_LT(Clock::now(), deadline) << "handshake did not finish";
    if (p->send == nullptr) {
      ASSERT_EQ(p->net->connect(0, handle, &p->send), mrdSuccess);
      if (p->send == nullptr) p->connectWasPending = true;
    }
    if (p->recv == nullptr) {
      ASSERT_EQ(p->net->accept(p->listen, &p->recv), mrdSuccess);
      if (p->recv == nullptr) p->acceptWasPending = true;
    }
    std::this_thread::yield();
  }
}

struct Msg {
  uint64_t tag;
  std::vector<unsigned char> out, in;
  void* smh = nullptr;
  void* rmh = nullptr;
  void* sreq = nullptr;
  void* rreq = nullptr;
  bool sdone = false, rdone = false;
  size_t sgot = 0, rgot = 0;
};

// Posts every message on both sides (retrying NULL requests, in order) and
// tests until all are done; returns the first error.
mrdResult_t exchange(Pair& p, std::vector<Msg>& msgs, std::chrono::seconds limit = 10s) {
  const mrdNet_v1_t* n = p.net;
  for (Msg& m : msgs) {
    if (n->regMr(p.send, m.out.data(), m.out.size(), MRD_PTR_HOST, &m.smh) != mrdSuccess)
      return mrdInternalError;
    if (n->regMr(p.recv, m.in.data(), m.in.size(), MRD_PTR_HOST, &m.rmh) != mrdSuccess)
      return mrdInternalError;
  }
  size_t sposted = 0, rposted = 0, done = 0;
  const auto deadline = Clock::now() + limit;
  while (done < 2 * msgs.size()) {
    if (Clock::now() > deadline) return mrdTimeout;
    // Post in order; stop at the first "not now".
    while (sposted < msgs.size()) {
      Msg& m = msgs[sposted];
      mrdResult_t rc = n->isend(p.send, m.out.data(), m.out.size(), m.tag, m.smh, &m.sreq);
      if (rc != mrdSuccess) return rc;
      if (m.sreq == nullptr) break;
      ++sposted;
    }
    while (rposted < msgs.size()) {
      Msg& m = msgs[rposted];
      mrdResult_t rc = n->irecv(p.recv, m.in.data(), m.in.size(), m.tag, m.rmh, &m.rreq);
      if (rc != mrdSuccess) return rc;
      if (m.rreq == nullptr) break;
      ++rposted;
    }
    for (size_t i = 0; i < sposted; ++i) {
      Msg& m = msgs[i];
      if (m.sdone) continue;
      int d = 0;
      mrdResult_t rc = n->test(m.sreq, &d, &m.sgot);
      if (rc != mrdSuccess) return rc;
      if (d == 0) break;  // later ones cannot be done before this one
      m.sdone = true;
      ++done;
    }
    for (size_t i = 0; i < rposted; ++i) {
      Msg& m = msgs[i];
      if (m.rdone) continue;
      int d = 0;
      mrdResult_t rc = n->test(m.rreq, &d, &m.rgot);
      if (rc != mrdSuccess) return rc;
      if (d == 0) break;
      m.rdone = true;
      ++done;
    }
  }
  for (Msg& m : msgs) {
    if (n->deregMr(p.send, m.smh) != mrdSuccess) return mrdInternalError;
    if (n->deregMr(p.recv, m.rmh) != mrdSuccess) return mrdInternalError;
  }
  return mrdSuccess;
}

Msg message(uint64_t tag, size_t bytes, size_t recvBytes) {
  Msg m;
  m.tag = tag;
  m.out.resize(bytes);
  for (size_t k = 0; k < bytes; ++k) m.out[k] = static_cast<unsigned char>(k * 131 + tag * 7 + 1);
  m.in.assign(recvBytes, 0xee);
  return m;
}

TEST(ExamplePlugin, ExportsAVersion1Table) {
  const mrdNet_v1_t* n = example();
  ASSERT_NE(n, nullptr) << dlerror();
  EXPECT_STREQ(n->name, "example");
  int ndev = 0;
  ASSERT_EQ(n->devices(&ndev), mrdSuccess);
  EXPECT_EQ(ndev, 1);
  mrdNetProperties_v1_t props{};
  ASSERT_EQ(n->getProperties(0, &props), mrdSuccess);
  EXPECT_NE(props.name, nullptr);
  EXPECT_TRUE(props.ptrSupport & MRD_PTR_HOST);
  EXPECT_EQ(props.maxRecvs, 1);
  EXPECT_NE(n->getProperties(1, &props), mrdSuccess);
}

TEST(ExamplePlugin, NonBlockingHandshake) {
  Pair p;
  makePair(&p);
  ASSERT_NE(p.send, nullptr);
  ASSERT_NE(p.recv, nullptr);
  // Nothing connected before the first accept() call, so it had to say "not yet".
  EXPECT_TRUE(p.acceptWasPending);
  std::printf("connect() returned a NULL comm at least once: %s\n",
              p.connectWasPending ? "yes" : "no (connected at once)");
}

TEST(ExamplePlugin, MessagesOfSeveralTagsAndSizesInOrder) {
  Pair p;
  makePair(&p);
  const size_t sizes[] = {0, 1, 7, 4096, 65536 + 3, (3u << 20) + 5, 0, 12};
  std::vector<Msg> msgs;
  uint64_t tag = 1;
  for (size_t s : sizes) msgs.push_back(message(tag++ * 1000003ull, s, s));
  ASSERT_EQ(exchange(p, msgs), mrdSuccess);
  for (const Msg& m : msgs) {
    EXPECT_EQ(m.sgot, m.out.size());
    EXPECT_EQ(m.rgot, m.out.size());
    EXPECT_TRUE(m.in == m.out) << "tag " << m.tag << " size " << m.out.size();
  }
}

TEST(ExamplePlugin, ShorterMessageThanReceiveReportsItsSize) {
  Pair p;
  makePair(&p);
  std::vector<Msg> msgs;
  msgs.push_back(message(9, 100, 4096));
  ASSERT_EQ(exchange(p, msgs), mrdSuccess);
  EXPECT_EQ(msgs[0].rgot, 100u);
  EXPECT_TRUE(std::equal(msgs[0].out.begin(), msgs[0].out.end(), msgs[0].in.begin()));
}

TEST(ExamplePlugin, FullRequestPoolSaysNotNowAndRecovers) {
  Pair p;
  makePair(&p);
  // More sends than the pool holds, none tested yet: isend must refuse some.
  std::vector<Msg> msgs;
  for (uint64_t t = 0; t < 100; ++t) msgs.push_back(message(t, 8 + t, 8 + t));
  int refused = 0;
  std::vector<void*> reqs;
  for (Msg& m : msgs) {
    void* req = nullptr;
    ASSERT_EQ(p.net->isend(p.send, m.out.data(), m.out.size(), m.tag, nullptr, &req), mrdSuccess);
    if (req == nullptr) {
      ++refused;
      break;
    }
    reqs.push_back(req);
  }
  EXPECT_EQ(refused, 1);
  ASSERT_LT(reqs.size(), msgs.size());
  // Receive what was posted, then let exchange() run the rest.
  std::vector<Msg> first(msgs.begin(), msgs.begin() + static_cast<long>(reqs.size()));
  std::vector<Msg> rest(msgs.begin() + static_cast<long>(reqs.size()), msgs.end());
  const auto deadline = Clock::now() + 10s;
  size_t sdone = 0, rposted = 0, rdone = 0;
  std::vector<void*> rreqs(first.size(), nullptr);
  while (sdone < reqs.size() || rdone < first.size()) {
    ASSERT_LT(Clock::now(), deadline);
    while (rposted < first.size()) {
      Msg& m = first[rposted];
      ASSERT_EQ(p.net->irecv(p.recv, m.in.data(), m.in.size(), m.tag, nullptr, &rreqs[rposted]),
                mrdSuccess);
      if (rreqs[rposted] == nullptr) break;
      ++rposted;
    }
    int d = 1;
    while (sdone < reqs.size() && d) {
      ASSERT_EQ(p.net->test(reqs[sdone], &d, nullptr), mrdSuccess);
      if (d) ++sdone;
    }
    d = 1;
    while (rdone < rposted && d) {
      ASSERT_EQ(p.net->test(rreqs[rdone], &d, nullptr), mrdSuccess);
      if (d) ++rdone;
    }
  }
  for (const Msg& m : first) EXPECT_TRUE(m.in == m.out) << "tag " << m.tag;
  ASSERT_EQ(exchange(p, rest), mrdSuccess);
  for (const Msg& m : rest) EXPECT_TRUE(m.in == m.out) << "tag " << m.tag;
}

TEST(ExamplePlugin, TagMismatchIsAnError) {
  Pair p;
  makePair(&p);
  std::vector<Msg> msgs;
  msgs.push_back(message(1, 16, 16));
  msgs[0].in.resize(16);
  // The receive expects another tag: post by hand.
  void* sreq = nullptr;
  void* rreq = nullptr;
  std::vector<unsigned char> in(16);
  ASSERT_EQ(p.net->isend(p.send, msgs[0].out.data(), 16, 1, nullptr, &sreq), mrdSuccess);
  ASSERT_EQ(p.net->irecv(p.recv, in.data(), 16, 2, nullptr, &rreq), mrdSuccess);
  const auto deadline = Clock::now() + 5s;
  mrdResult_t rc = mrdSuccess;
  int done = 0;
  while (rc == mrdSuccess && !done && Clock::now() < deadline) {
    int sd = 0;
    if (sreq != nullptr) {
      ASSERT_EQ(p.net->test(sreq, &sd, nullptr), mrdSuccess);
      if (sd) sreq = nullptr;
    }
    rc = p.net->test(rreq, &done, nullptr);
  }
  EXPECT_NE(rc, mrdSuccess);
  EXPECT_EQ(done, 0);
}

TEST(ExamplePlugin, MessageLargerThanReceiveIsAnError) {
  Pair p;
  makePair(&p);
  std::vector<Msg> msgs;
  msgs.push_back(message(3, 64, 32));
  EXPECT_NE(exchange(p, msgs, 5s), mrdSuccess);
}

TEST(ExamplePlugin, PeerClosingFailsAPendingReceiveQuickly) {
  Pair p;
  makePair(&p);
  std::vector<unsigned char> in(8);
  void* rreq = nullptr;
  ASSERT_EQ(p.net->irecv(p.recv, in.data(), in.size(), 0, nullptr, &rreq), mrdSuccess);
  int done = 0;
  ASSERT_EQ(p.net->test(rreq, &done, nullptr), mrdSuccess);
  EXPECT_EQ(done, 0);
  ASSERT_EQ(p.net->closeSend(p.send), mrdSuccess);
  p.send = nullptr;
  const auto t0 = Clock::now();
  mrdResult_t rc = mrdSuccess;
  while (rc == mrdSuccess && Clock::now() - t0 < 5s) rc = p.net->test(rreq, &done, nullptr);
  EXPECT_EQ(rc, mrdRemoteError);
  EXPECT_LT(Clock::now() - t0, 2s);
  // Closing a comm with a request still outstanding is allowed.
}

TEST(ExamplePlugin, ForeignHandleIsRejected) {
  const mrdNet_v1_t* n = example();
  ASSERT_NE(n, nullptr);
  char handle[MRD_NET_HANDLE_MAXSIZE];
  std::memset(handle, 0x5a, sizeof handle);
  void* send = nullptr;
  EXPECT_EQ(n->connect(0, handle, &send), mrdInvalidArgument);
  EXPECT_EQ(send, nullptr);
}

// ---- loader ----

using mrd::Status;
using mrd::transport::plugin::LoadedNetPlugin;
using mrd::transport::plugin::loadNetPlugin;
using mrd::transport::plugin::netPluginCandidates;

TEST(NetPluginLoader, CandidateNames) {
  EXPECT_EQ(netPluginCandidates("example"),
            (std::vector<std::string>{"libmeridian-net-example.so", "example"}));
  EXPECT_EQ(netPluginCandidates("/opt/x/libfoo.so"),
            (std::vector<std::string>{"/opt/x/libfoo.so"}));
  EXPECT_EQ(netPluginCandidates("./libfoo.so"), (std::vector<std::string>{"./libfoo.so"}));
}

TEST(NetPluginLoader, LoadsTheExample) {
  const LoadedNetPlugin* p = nullptr;
  Status st = loadNetPlugin(MRD_NET_EXAMPLE_PATH, &p);
  ASSERT_TRUE(st.isOk()) << st.message();
  ASSERT_NE(p, nullptr);
  EXPECT_STREQ(p->net->name, "example");
  EXPECT_EQ(p->ndev, 1);
  // Loaded once: the same answer again.
  const LoadedNetPlugin* q = nullptr;
  ASSERT_TRUE(loadNetPlugin(MRD_NET_EXAMPLE_PATH, &q).isOk());
  EXPECT_EQ(p, q);
}

TEST(NetPluginLoader, MissingFileNamesEveryNameTried) {
  const LoadedNetPlugin* p = nullptr;
  Status st = loadNetPlugin("/nonexistent/libmeridian-net-nothing.so", &p);
  EXPECT_FALSE(st.isOk());
  EXPECT_EQ(p, nullptr);
  EXPECT_NE(st.message().find("/nonexistent/libmeridian-net-nothing.so"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("No such file"), std::string::npos) << st.message();
  st = loadNetPlugin("no-such-plugin-anywhere", &p);
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("libmeridian-net-no-such-plugin-anywhere.so"), std::string::npos)
      << st.message();
}

TEST(NetPluginLoader, LibraryWithoutTheSymbol) {
  const LoadedNetPlugin* p = nullptr;
  Status st = loadNetPlugin(MRD_NET_NOSYM_PATH, &p);
  EXPECT_FALSE(st.isOk());
  EXPECT_EQ(p, nullptr);
  EXPECT_NE(st.message().find(MRD_NET_PLUGIN_SYMBOL_V1), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(MRD_NET_NOSYM_PATH), std::string::npos) << st.message();
}

TEST(NetPluginLoader, InitFailureCarriesThePluginsReason) {
  const LoadedNetPlugin* p = nullptr;
  Status st = loadNetPlugin(MRD_NET_BADINIT_PATH, &p);
  EXPECT_FALSE(st.isOk());
  EXPECT_EQ(p, nullptr);
  EXPECT_NE(st.message().find("init()"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("no usable device"), std::string::npos) << st.message();
}

// ---- the adapter transport between two ranks (threads) ----

namespace tp = mrd::transport;

struct Rank {
  std::unique_ptr<mrd::bootstrap::Bootstrap> boot;
  std::unique_ptr<tp::Transport> t;
  tp::ConnectionTable conns;
};

constexpr int kChannels = 2;

void runPair(const std::function<void(int, Rank&)>& fn) {
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess);
  Rank ranks[2];
  std::thread th[2];
  for (int r = 0; r < 2; ++r) {
    th[r] = std::thread([&, r] {
      Rank& me = ranks[r];
      ASSERT_TRUE(mrd::bootstrap::Bootstrap::create(id, r, 2, 5000, nullptr, &me.boot).isOk());
      me.t = tp::plugin::makeNetPluginTransport(MRD_NET_EXAMPLE_PATH, "net:example");
      ASSERT_STREQ(me.t->name(), "net:example");
      ASSERT_TRUE(me.t->viable());
      me.conns.resize(2);
      for (auto& c : me.conns) c.resize(kChannels);
      tp::SetupContext ctx;
      ctx.bootstrap = me.boot.get();
      ctx.params = &mrd::config::processParams();
      ctx.commTag = "netplugin";
      ctx.nchannels = kChannels;
      ctx.timeoutMs = 5000;
      ctx.useFor = {r == 1, r == 0};
      Status st = me.t->connect(ctx, &me.conns);
      ASSERT_TRUE(st.isOk()) << st.message();
      fn(r, me);
    });
  }
  for (auto& t : th) t.join();
}

Status waitAll(tp::Connection* c, const std::vector<tp::Request*>& reqs) {
  const auto deadline = Clock::now() + 10s;
  while (true) {
    bool moved = false;
    MRD_TRY(c->progress(&moved));
    bool all = true;
    for (auto* r : reqs) all = all && r->done;
    if (all) return Status::ok();
    if (Clock::now() > deadline) return mrd::timeoutError("test wait");
    if (!moved) std::this_thread::yield();
  }
}

TEST(NetPluginTransport, MessagesBothWaysOnEveryChannel) {
  const std::vector<size_t> sizes = {0, 1, 4096, 65536 + 3, 3 << 20};
  runPair([&](int r, Rank& me) {
    for (int c = 0; c < kChannels; ++c) {
      tp::Connection* conn = me.conns[1 - r][c].get();
      ASSERT_NE(conn, nullptr);
      EXPECT_EQ(conn->peer(), 1 - r);
      std::vector<std::vector<uint8_t>> out, in;
      // Many small messages too, more than the plug-in's request pool.
      std::vector<size_t> all = sizes;
      for (int k = 0; k < 70; ++k) all.push_back(static_cast<size_t>(k));
      std::vector<tp::Request> sends(all.size()), recvs(all.size());
      std::vector<tp::Request*> reqs;
      for (size_t i = 0; i < all.size(); ++i) {
        out.emplace_back(all[i]);
        in.emplace_back(all[i], 0xee);
        for (size_t k = 0; k < all[i]; ++k) out[i][k] = static_cast<uint8_t>(k * 31 + r + c + i);
        sends[i] = tp::Request{i, out[i].data(), all[i]};
        recvs[i] = tp::Request{i, in[i].data(), all[i]};
        ASSERT_TRUE(conn->postSend(&sends[i]).isOk());
        ASSERT_TRUE(conn->postRecv(&recvs[i]).isOk());
        reqs.push_back(&sends[i]);
        reqs.push_back(&recvs[i]);
      }
      Status st = waitAll(conn, reqs);
      ASSERT_TRUE(st.isOk()) << st.message();
      for (size_t i = 0; i < all.size(); ++i) {
        EXPECT_EQ(recvs[i].progressed, all[i]);
        for (size_t k = 0; k < all[i]; ++k) {
          ASSERT_EQ(in[i][k], static_cast<uint8_t>(k * 31 + (1 - r) + c + i))
              << "size " << all[i] << " byte " << k << " channel " << c;
        }
      }
      // Plug-in transports do not probe yet.
      EXPECT_TRUE(conn->probe().isOk());
      EXPECT_EQ(conn->lastProbe().rttNs, 0u);
    }
  });
}

TEST(NetPluginTransport, SizeMismatchIsAnErrorNamingThePeer) {
  runPair([&](int r, Rank& me) {
    tp::Connection* conn = me.conns[1 - r][0].get();
    std::vector<uint8_t> buf(64);
    tp::Request req{5, buf.data(), r == 0 ? size_t{32} : size_t{64}};
    if (r == 0) {
      ASSERT_TRUE(conn->postSend(&req).isOk());
      (void)waitAll(conn, {&req});
    } else {
      ASSERT_TRUE(conn->postRecv(&req).isOk());
      Status st = waitAll(conn, {&req});
      EXPECT_FALSE(st.isOk());
      EXPECT_NE(st.message().find("peer 0"), std::string::npos) << st.message();
      EXPECT_NE(st.message().find("mismatch"), std::string::npos) << st.message();
    }
    me.boot->barrier();
  });
}

TEST(NetPluginTransport, AbortMakesThePeerFailFast) {
  runPair([&](int r, Rank& me) {
    tp::Connection* conn = me.conns[1 - r][0].get();
    me.boot->barrier();
    if (r == 0) {
      me.t->abort();
      // Our own connection now fails instead of touching closed comms.
      uint8_t b = 0;
      tp::Request req{0, &b, 1};
      bool moved = false;
      EXPECT_FALSE(conn->postRecv(&req).isOk() && conn->progress(&moved).isOk());
      me.boot->barrier();
      return;
    }
    me.boot->barrier();
    uint8_t b = 0;
    tp::Request req{0, &b, 1};
    ASSERT_TRUE(conn->postRecv(&req).isOk());
    auto t0 = Clock::now();
    Status st = waitAll(conn, {&req});
    EXPECT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("peer 0"), std::string::npos) << st.message();
    EXPECT_LT(Clock::now() - t0, 5s);
  });
}

TEST(NetPluginTransport, ARankWhosePluginFailedMakesEveryRankFail) {
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess);
  std::string errs[2];
  std::thread th[2];
  for (int r = 0; r < 2; ++r) {
    th[r] = std::thread([&, r] {
      std::unique_ptr<mrd::bootstrap::Bootstrap> boot;
      ASSERT_TRUE(mrd::bootstrap::Bootstrap::create(id, r, 2, 5000, nullptr, &boot).isOk());
      auto t = tp::plugin::makeNetPluginTransport(
          r == 0 ? MRD_NET_EXAMPLE_PATH : "/nonexistent/libmeridian-net-gone.so", "net:example");
      EXPECT_TRUE(t->viable());  // so that connect() reports why it is not
      EXPECT_STREQ(t->name(), r == 0 ? "net:example" : "net:gone");
      tp::ConnectionTable conns(2);
      for (auto& c : conns) c.resize(1);
      tp::SetupContext ctx;
      ctx.bootstrap = boot.get();
      ctx.params = &mrd::config::processParams();
      ctx.nchannels = 1;
      ctx.timeoutMs = 5000;
      ctx.useFor = {r == 1, r == 0};
      Status st = t->connect(ctx, &conns);
      EXPECT_FALSE(st.isOk());
      errs[r] = st.message();
    });
  }
  for (auto& t : th) t.join();
  EXPECT_NE(errs[0].find("peer 1"), std::string::npos) << errs[0];
  EXPECT_NE(errs[1].find("/nonexistent/libmeridian-net-gone.so"), std::string::npos) << errs[1];
}

// ---- communicator init with a broken MRD_NET_PLUGIN ----

TEST(NetPluginInit, BrokenPluginFailsInitWithAClearError) {
  const char* expect = std::getenv("MRD_TEST_EXPECT_INIT_ERROR");
  if (expect == nullptr)
    GTEST_SKIP() << "runs under the netplugin_missing.* and netplugin_nosym.* ctest entries";
  mrdtest::expectInitFailsOnEveryRank(3, [&](int rank, const std::string& msg) {
    EXPECT_NE(msg.find("rank "), std::string::npos) << msg;
    // Every rank that loaded nothing names the file; all fail.
    EXPECT_NE(msg.find(expect), std::string::npos) << "rank " << rank << ": " << msg;
  });
}

}  // namespace
