#include "plugin/net_plugin_transport.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "core/ring_queue.h"
#include "log/log.h"
#include "plugin/net_plugin_loader.h"

namespace mrd::transport::plugin {
namespace {

constexpr uint32_t kSlotMagic = 0x4d524e50;  // "MRNP"
constexpr int kDev = 0;
using Handle = std::array<char, MRD_NET_HANDLE_MAXSIZE>;

// One rank's part of the setup exchange: a header, then a handle for every
// (peer, channel) it listens for ([peer][channel], zeros where unused).
struct SlotHeader {
  uint32_t magic;
  int32_t state;  // kSlot*
  int32_t nchannels;
  int32_t reserved;
  char plugin[48];  // the plug-in's name, for a consistency check
};
enum : int32_t { kSlotReady = 1, kSlotLoadFailed = 2, kSlotListenFailed = 3 };

std::string rc2str(mrdResult_t rc) {
  return std::to_string(static_cast<int>(rc)) + " (" + mrdGetErrorString(rc) + ")";
}

// A plug-in call's failure, with whatever the plug-in logged just before.
std::string callFailed(const std::string& call, mrdResult_t rc) {
  std::string m = call + " returned " + rc2str(rc);
  std::string w = takePluginWarning();
  if (!w.empty()) m += ": " + w;
  return m;
}

// The plug-in comms of one (peer, channel). Shared by the connection and
// the transport, so abort() (another thread) can close them: every use
// holds the mutex, and a closed endpoint is never touched again.
struct Endpoint {
  std::mutex mu;
  const mrdNet_v1_t* net = nullptr;
  void* send = nullptr;
  void* recv = nullptr;
  bool closed = false;

  void closeLocked() {
    if (closed) return;
    closed = true;
    // Closing also drops the requests and registrations still held (contract).
    if (send != nullptr) net->closeSend(send);
    if (recv != nullptr) net->closeRecv(recv);
    send = recv = nullptr;
  }
};

class NetPluginConnection : public Connection {
 public:
  NetPluginConnection(int peer, int self, std::string tname, std::shared_ptr<Endpoint> ep)
      : peer_(peer), self_(self), tname_(std::move(tname)), ep_(std::move(ep)) {}
  ~NetPluginConnection() override {
    std::lock_guard<std::mutex> g(ep_->mu);
    ep_->closeLocked();
  }

  int peer() const override { return peer_; }
  Status postSend(Request* r) override { return post(&sends_, r); }
  Status postRecv(Request* r) override { return post(&recvs_, r); }
  Status progress(bool* moved) override;
  Status probe() override { return Status::ok(); }  // plug-in transports do not probe yet
  ProbeSample lastProbe() const override { return ProbeSample{}; }

 private:
  struct Op {
    Request* r = nullptr;
    void* mhandle = nullptr;
    void* req = nullptr;
    bool registered = false;
  };
  struct Queue {
    bool isSend = false;
    RingQueue<Op> ops;
    size_t posted = 0;  // ops [0, posted) are with the plug-in, in order
  };

  static Queue makeQueue(bool isSend) {
    Queue q;
    q.isSend = isSend;
    return q;
  }
  Status post(Queue* q, Request* r);
  Status postPending(Queue* q, bool* moved);
  Status testPosted(Queue* q, bool* moved);
  Status peerError(const std::string& what) const {
    return remoteError("rank " + std::to_string(self_) + " <-> peer " + std::to_string(peer_) +
                       " (" + tname_ + "): " + what);
  }
  std::string describe(const Queue& q, const Request& r) const {
    return std::string(q.isSend ? "send" : "receive") + " of tag " + std::to_string(r.tag) + " (" +
           std::to_string(r.bytes) + " bytes)";
  }
  Status fail(Status st) {
    if (broken_.isOk()) broken_ = st;
    return st;
  }

  int peer_;
  int self_;
  std::string tname_;
  std::shared_ptr<Endpoint> ep_;
  Queue sends_ = makeQueue(true);
  Queue recvs_ = makeQueue(false);
  Status broken_;  // the first error; every later call returns it
};

Status NetPluginConnection::post(Queue* q, Request* r) {
  std::lock_guard<std::mutex> g(ep_->mu);
  if (!broken_.isOk()) return broken_;
  if (ep_->closed) return fail(peerError("connection closed (communicator aborted)"));
  r->progressed = 0;
  r->done = false;
  q->ops.push(Op{r, nullptr, nullptr, false});
  bool moved = false;
  return postPending(q, &moved);
}

// Hands the waiting ops to the plug-in, oldest first, until it says "not now".
Status NetPluginConnection::postPending(Queue* q, bool* moved) {
  const mrdNet_v1_t* net = ep_->net;
  void* comm = q->isSend ? ep_->send : ep_->recv;
  while (q->posted < q->ops.size()) {
    Op& op = q->ops.at(q->posted);
    Request& r = *op.r;
    if (!op.registered) {
      mrdResult_t rc = net->regMr(comm, r.buf, r.bytes, MRD_PTR_HOST, &op.mhandle);
      if (rc != mrdSuccess) {
        return fail(
            peerError("regMr for the " + describe(*q, r) + ": " + callFailed("regMr()", rc)));
      }
      op.registered = true;
    }
    void* req = nullptr;
    mrdResult_t rc = q->isSend ? net->isend(comm, r.buf, r.bytes, r.tag, op.mhandle, &req)
                               : net->irecv(comm, r.buf, r.bytes, r.tag, op.mhandle, &req);
    if (rc != mrdSuccess) {
      return fail(peerError((q->isSend ? "isend() for the " : "irecv() for the ") +
                            describe(*q, r) + ": " +
                            callFailed(q->isSend ? "isend()" : "irecv()", rc)));
    }
    if (req == nullptr) break;  // the plug-in is full: retry from progress()
    op.req = req;
    ++q->posted;
    *moved = true;
  }
  return Status::ok();
}

// Tests the posted ops in posting order; completes the finished prefix.
Status NetPluginConnection::testPosted(Queue* q, bool* moved) {
  const mrdNet_v1_t* net = ep_->net;
  void* comm = q->isSend ? ep_->send : ep_->recv;
  while (q->posted > 0) {
    Op& op = q->ops.front();
    Request& r = *op.r;
    int done = 0;
    size_t size = 0;
    mrdResult_t rc = net->test(op.req, &done, &size);
    if (rc != mrdSuccess) {
      return fail(peerError("the " + describe(*q, r) + " failed: " + callFailed("test()", rc)));
    }
    if (done == 0) break;
    if (op.mhandle != nullptr) {
      rc = net->deregMr(comm, op.mhandle);
      if (rc != mrdSuccess) {
        return fail(
            peerError("deregMr after the " + describe(*q, r) + ": " + callFailed("deregMr()", rc)));
      }
    }
    if (size != r.bytes) {
      return fail(peerError("message mismatch: the " + describe(*q, r) + " completed with " +
                            std::to_string(size) +
                            " bytes (operations issued in a different order on the two ranks?)"));
    }
    r.progressed = r.bytes;
    r.done = true;
    q->ops.pop();
    --q->posted;
    *moved = true;
  }
  return Status::ok();
}

Status NetPluginConnection::progress(bool* moved) {
  std::lock_guard<std::mutex> g(ep_->mu);
  if (!broken_.isOk()) return broken_;
  if (ep_->closed) {
    if (sends_.ops.empty() && recvs_.ops.empty()) return Status::ok();
    return fail(peerError("connection closed (communicator aborted)"));
  }
  for (Queue* q : {&recvs_, &sends_}) {
    if (q->ops.empty()) continue;
    bool completed = false;
    MRD_TRY(testPosted(q, &completed));
    if (q->posted < q->ops.size()) MRD_TRY(postPending(q, moved));
    *moved = *moved || completed;
  }
  return Status::ok();
}

// "libmeridian-net-foo.so", "/x/libmeridian-net-foo.so.1", "foo" -> "foo".
std::string guessName(const std::string& spec) {
  std::string n =
      spec.substr(spec.find_last_of('/') == std::string::npos ? 0 : spec.find_last_of('/') + 1);
  const std::string prefix = "libmeridian-net-";
  if (n.compare(0, prefix.size(), prefix) == 0) n = n.substr(prefix.size());
  size_t so = n.find(".so");
  if (so != std::string::npos) n = n.substr(0, so);
  return n.empty() ? "unknown" : n;
}

class NetPluginTransport : public Transport {
 public:
  NetPluginTransport(const std::string& spec, const LoadedNetPlugin* p, Status loadStatus)
      : plugin_(p), loadStatus_(std::move(loadStatus)) {
    name_ = "net:" + (plugin_ != nullptr ? std::string(plugin_->net->name) : guessName(spec));
  }
  const char* name() const override { return name_.c_str(); }
  // Even a plug-in that failed to load says it is viable, under the name it
  // would probably have had: then MRD_TRANSPORTS=net:<name> still selects
  // it and init fails in connect() with the load error, rather than with
  // "no transport reaches peer" or a silent fallback.
  bool viable() const override { return true; }
  bool canReach(const bootstrap::Bootstrap&, int) const override { return true; }
  Status connect(const SetupContext& ctx, ConnectionTable* conns) override;
  void abort() override {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& w : endpoints_) {
      if (auto ep = w.lock()) {
        std::lock_guard<std::mutex> eg(ep->mu);
        ep->closeLocked();
      }
    }
  }

 private:
  Status establish(const SetupContext& ctx, const std::vector<char>& table, size_t slotBytes,
                   std::vector<void*>* listens, std::vector<void*>* sends,
                   std::vector<void*>* recvs);

  const LoadedNetPlugin* plugin_;
  Status loadStatus_;
  std::string name_;
  std::mutex mu_;
  std::vector<std::weak_ptr<Endpoint>> endpoints_;  // for abort
};

// Drives every connect() and accept() of this rank in one loop.
Status NetPluginTransport::establish(const SetupContext& ctx, const std::vector<char>& table,
                                     size_t slotBytes, std::vector<void*>* listens,
                                     std::vector<void*>* sends, std::vector<void*>* recvs) {
  const mrdNet_v1_t* net = plugin_->net;
  const int me = ctx.bootstrap->rank(), n = ctx.bootstrap->nranks(), nch = ctx.nchannels;
  const std::string who = "rank " + std::to_string(me) + ": " + name_ + " ";
  auto idx = [nch](int p, int c) {
    return static_cast<size_t>(p) * static_cast<size_t>(nch) + static_cast<size_t>(c);
  };
  // Our copies of the peers' handles (connect() may keep its state in them).
  std::vector<Handle> handles(static_cast<size_t>(n) * static_cast<size_t>(nch));
  size_t remaining = 0;
  for (int p = 0; p < n; ++p) {
    if (!ctx.useFor[static_cast<size_t>(p)]) continue;
    const char* slot = table.data() + static_cast<size_t>(p) * slotBytes + sizeof(SlotHeader);
    for (int c = 0; c < nch; ++c) {
      std::memcpy(handles[idx(p, c)].data(), slot + idx(me, c) * MRD_NET_HANDLE_MAXSIZE,
                  MRD_NET_HANDLE_MAXSIZE);
      remaining += 2;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(ctx.timeoutMs);
  int idleRounds = 0;
  while (remaining > 0) {
    bool any = false;
    takePluginWarning();  // only what the plug-in says during this round explains an error
    for (int p = 0; p < n; ++p) {
      if (!ctx.useFor[static_cast<size_t>(p)]) continue;
      for (int c = 0; c < nch; ++c) {
        const size_t i = idx(p, c);
        const std::string where =
            "peer " + std::to_string(p) + " (channel " + std::to_string(c) + ")";
        if ((*sends)[i] == nullptr) {
          mrdResult_t rc = net->connect(kDev, handles[i].data(), &(*sends)[i]);
          if (rc != mrdSuccess) {
            (*sends)[i] = nullptr;
            return systemError(who + "connect to " + where + ": " + callFailed("connect()", rc));
          }
          if ((*sends)[i] != nullptr) --remaining, any = true;
        }
        if ((*recvs)[i] == nullptr) {
          mrdResult_t rc = net->accept((*listens)[i], &(*recvs)[i]);
          if (rc != mrdSuccess) {
            (*recvs)[i] = nullptr;
            return systemError(who + "accept from " + where + ": " + callFailed("accept()", rc));
          }
          if ((*recvs)[i] != nullptr) --remaining, any = true;
        }
      }
    }
    if (remaining == 0) break;
    if (ctx.abort != nullptr && ctx.abort->load()) {
      return remoteError(who + "connection setup aborted");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string pending;
      int listed = 0;
      for (int p = 0; p < n && listed < 4; ++p) {
        if (!ctx.useFor[static_cast<size_t>(p)]) continue;
        for (int c = 0; c < nch && listed < 4; ++c) {
          const size_t i = idx(p, c);
          if ((*sends)[i] == nullptr) {
            pending += (listed++ ? ", " : "") + std::string("connect to peer ") +
                       std::to_string(p) + " channel " + std::to_string(c);
          }
          if ((*recvs)[i] == nullptr && listed < 4) {
            pending += (listed++ ? ", " : "") + std::string("accept from peer ") +
                       std::to_string(p) + " channel " + std::to_string(c);
          }
        }
      }
      return timeoutError(who + "connection setup did not finish within " +
                          std::to_string(ctx.timeoutMs) + " ms; still waiting for " + pending +
                          (remaining > static_cast<size_t>(listed) ? ", ..." : ""));
    }
    // Not a busy spin: a few yields, then short naps while peers catch up.
    if (any) {
      idleRounds = 0;
    } else if (++idleRounds < 16) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  return Status::ok();
}

Status NetPluginTransport::connect(const SetupContext& ctx, ConnectionTable* conns) {
  bootstrap::Bootstrap& b = *ctx.bootstrap;
  const int me = b.rank(), n = b.nranks(), nch = ctx.nchannels;
  const std::string who = "rank " + std::to_string(me) + ": " + name_;
  const size_t perRank = static_cast<size_t>(n) * static_cast<size_t>(nch);
  const size_t slotBytes = sizeof(SlotHeader) + perRank * MRD_NET_HANDLE_MAXSIZE;
  bool needed = false;
  for (bool u : ctx.useFor) needed = needed || u;

  std::vector<char> table(static_cast<size_t>(n) * slotBytes, 0);
  char* mine = table.data() + static_cast<size_t>(me) * slotBytes;
  SlotHeader hdr{};
  hdr.magic = kSlotMagic;
  hdr.nchannels = nch;
  hdr.state = kSlotReady;
  std::vector<void*> listens(perRank, nullptr), sends(perRank, nullptr), recvs(perRank, nullptr);
  auto closeAll = [&] {
    for (void* l : listens)
      if (l != nullptr) plugin_->net->closeListen(l);
    for (void* s : sends)
      if (s != nullptr) plugin_->net->closeSend(s);
    for (void* r : recvs)
      if (r != nullptr) plugin_->net->closeRecv(r);
  };
  Status local = loadStatus_.withContext("rank " + std::to_string(me));
  if (plugin_ == nullptr) {
    hdr.state = kSlotLoadFailed;
    if (local.isOk()) local = internalError("net plug-in not loaded");
  } else {
    std::snprintf(hdr.plugin, sizeof hdr.plugin, "%s", plugin_->net->name);
    for (int p = 0; needed && local.isOk() && p < n; ++p) {
      if (!ctx.useFor[static_cast<size_t>(p)]) continue;
      for (int c = 0; local.isOk() && c < nch; ++c) {
        const size_t i = static_cast<size_t>(p) * static_cast<size_t>(nch) + static_cast<size_t>(c);
        char* h = mine + sizeof(SlotHeader) + i * MRD_NET_HANDLE_MAXSIZE;
        mrdResult_t rc = plugin_->net->listen(kDev, h, &listens[i]);
        if (rc != mrdSuccess) {
          listens[i] = nullptr;
          local = systemError(who + ": listen for peer " + std::to_string(p) + " (channel " +
                              std::to_string(c) + "): " + callFailed("listen()", rc));
          hdr.state = kSlotListenFailed;
        }
      }
    }
  }
  std::memcpy(mine, &hdr, sizeof hdr);
  // Everyone takes part, even with nothing to do or a plug-in that failed.
  Status st = b.allgather(table.data(), slotBytes);
  if (!local.isOk() || !st.isOk()) {
    if (plugin_ != nullptr) closeAll();
    return !local.isOk() ? local : st.withContext(who + ": exchanging connection handles");
  }
  for (int p = 0; p < n; ++p) {
    if (p == me) continue;
    SlotHeader ph;
    std::memcpy(&ph, table.data() + static_cast<size_t>(p) * slotBytes, sizeof ph);
    ph.plugin[sizeof ph.plugin - 1] = '\0';
    std::string problem;
    if (ph.magic != kSlotMagic) {
      problem = "sent a corrupt connection table";
    } else if (ph.state == kSlotLoadFailed) {
      problem = "could not load its net plug-in (see that rank's error)";
    } else if (!ctx.useFor[static_cast<size_t>(p)]) {
      continue;
    } else if (ph.state != kSlotReady) {
      problem = "could not listen (see that rank's error)";
    } else if (ph.nchannels != nch) {
      problem =
          "uses " + std::to_string(ph.nchannels) + " channels, this rank " + std::to_string(nch);
    } else if (std::strcmp(ph.plugin, plugin_->net->name) != 0) {
      problem = std::string("loaded net plug-in '") + ph.plugin + "', this rank '" +
                plugin_->net->name + "' (MRD_NET_PLUGIN must be the same on every rank)";
    }
    if (!problem.empty()) {
      closeAll();
      return remoteError(who + ": peer " + std::to_string(p) + " " + problem);
    }
  }
  if (!needed) return Status::ok();

  st = establish(ctx, table, slotBytes, &listens, &sends, &recvs);
  for (void*& l : listens) {
    if (l != nullptr) plugin_->net->closeListen(l);
    l = nullptr;
  }
  if (!st.isOk()) {
    closeAll();
    return st;
  }
  std::lock_guard<std::mutex> g(mu_);
  for (int p = 0; p < n; ++p) {
    if (!ctx.useFor[static_cast<size_t>(p)]) continue;
    for (int c = 0; c < nch; ++c) {
      const size_t i = static_cast<size_t>(p) * static_cast<size_t>(nch) + static_cast<size_t>(c);
      auto ep = std::make_shared<Endpoint>();
      ep->net = plugin_->net;
      ep->send = sends[i];
      ep->recv = recvs[i];
      endpoints_.push_back(ep);
      (*conns)[static_cast<size_t>(p)][static_cast<size_t>(c)] =
          std::make_unique<NetPluginConnection>(p, me, name_, std::move(ep));
    }
  }
  MRD_LOG_INFO(
      kNet, "{}: connected to {} peer(s) x {} channel(s)", who,
      [&] {
        int k = 0;
        for (bool u : ctx.useFor) k += u;
        return k;
      }(),
      nch);
  return Status::ok();
}

}  // namespace

std::unique_ptr<Transport> makeNetPluginTransport(const std::string& spec,
                                                  const std::string& allowedTransports) {
  const LoadedNetPlugin* p = nullptr;
  Status st = loadNetPlugin(spec, &p);
  auto t = std::make_unique<NetPluginTransport>(spec, p, st);
  if (p != nullptr) {
    static std::once_flag warned;
    const std::string name = t->name();
    if (("," + allowedTransports + ",").find("," + name + ",") == std::string::npos) {
      std::call_once(warned, [&] {
        MRD_LOG_WARN(kNet,
                     "net plug-in loaded (MRD_NET_PLUGIN={}) but MRD_TRANSPORTS={} does "
                     "not list {}: it will not be used",
                     spec, allowedTransports, name);
      });
    }
  }
  return t;
}

}  // namespace mrd::transport::plugin
