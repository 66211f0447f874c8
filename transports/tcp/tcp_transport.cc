// Connection setup for TCP over every rail: each rank listens on each of
// its NICs (MRD_SOCKET_IFNAME, see link/nic.h), the NICs and ports are
// exchanged over the bootstrap, rails are matched by subnet, and for each
// pair of ranks the lower one connects one socket per (channel, rail,
// stream) from its NIC to the peer's, the higher one accepts. Each new
// socket first says who it is (secret, rank, channel, path, stream), so
// strays are refused. The sockets of a (peer, channel) become the paths of
// one link::Link, which spreads and re-routes the traffic among them.
#include "tcp_transport.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <mutex>

#include "bootstrap/bootstrap.h"
#include "bootstrap/hello_gate.h"
#include "bootstrap/socket.h"
#include "config/params.h"
#include "link/link.h"
#include "link/nic_watch.h"
#include "link/nic.h"
#include "log/log.h"
#include "probe/probe_log.h"

namespace mrd::transport::tcp {
namespace {

constexpr uint32_t kConnMagic = 0x4d524458;  // "MRDX": link framing (NIC-down notices)
constexpr size_t kMaxRails = 4;

struct ConnHello {
  uint32_t magic;
  bootstrap::Secret secret;
  int32_t rank;
  int32_t channel;
  int32_t path;
  int32_t sock;
};

// What a rank publishes: its NICs and the port it listens on at each.
struct RailAddrs {
  uint32_t count;
  uint32_t reserved;
  link::NicWire nics[kMaxRails];
  uint16_t ports[kMaxRails];
};

class TcpTransport : public Transport {
 public:
  const char* name() const override { return "tcp"; }
  bool viable() const override { return true; }
  bool canReach(const bootstrap::Bootstrap&, int) const override { return true; }
  Status connect(const SetupContext& ctx, ConnectionTable* conns) override;
  void abort() override {
    std::lock_guard<std::mutex> g(mu_);
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
  }
  void forgetConnections() override {
    std::lock_guard<std::mutex> g(mu_);
    fds_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<int> fds_;  // every data socket, for abort (not owned)
};

void tuneSocket(int fd, int64_t bufBytes) {
  net::setNoDelay(fd);
  if (bufBytes > 0) {
    int b = static_cast<int>(bufBytes);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &b, sizeof b);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b, sizeof b);
  }
}

net::SockAddr sockAddrOf(const link::Nic& n, int port) {
  return net::sockAddrFromBytes(n.family, n.addr, port);
}

std::string nicText(const link::Nic& n) { return n.name + " " + n.addrText(); }

Status TcpTransport::connect(const SetupContext& ctx, ConnectionTable* conns) {
  bootstrap::Bootstrap& b = *ctx.bootstrap;
  const int me = b.rank(), n = b.nranks();
  const int nsocks = ctx.params->nsocksPerPeer;
  bool needed = false;
  for (bool u : ctx.useFor) needed = needed || u;

  // Everyone takes part in the exchange; ranks with no TCP peer publish none.
  std::vector<link::Nic> mine;
  std::vector<int> listenFds;
  std::vector<RailAddrs> addrs(static_cast<size_t>(n));
  std::memset(addrs.data(), 0, addrs.size() * sizeof(RailAddrs));
  Status st = Status::ok();
  if (needed) {
    std::vector<link::Nic> all;
    st = link::listInterfaces(&all);
    if (st.isOk()) st = link::selectNics(all, ctx.params->socketIfname, kMaxRails, &mine);
    RailAddrs& own = addrs[static_cast<size_t>(me)];
    for (size_t i = 0; st.isOk() && i < mine.size(); ++i) {
      int fd = -1;
      net::SockAddr bound;
      st = net::listenOn(sockAddrOf(mine[i], 0), 1024, &fd, &bound);
      if (!st.isOk()) break;
      listenFds.push_back(fd);
      own.nics[i] = link::toWire(mine[i]);
      own.ports[i] = static_cast<uint16_t>(bound.port());
      own.count = static_cast<uint32_t>(i + 1);
      MRD_LOG_INFO(kNet, "tcp rail {}: listening on {} ({})", i, bound.str(), mine[i].name);
    }
    if (!st.isOk()) {
      // Still take part in the exchange below, so nobody waits for us.
      own.count = 0;
      st = st.withContext("rank " + std::to_string(me) + ": tcp setup");
    }
  }
  Status shared = b.allgather(addrs.data(), sizeof(RailAddrs));
  auto closeListeners = [&] {
    for (int& fd : listenFds) net::closeFd(&fd);
  };
  if (!st.isOk() || !shared.isOk()) {
    closeListeners();
    return st.isOk() ? shared : st;
  }
  // Every peer's NICs, validated (they come from the network).
  std::vector<std::vector<link::Nic>> nics(static_cast<size_t>(n));
  for (int p = 0; p < n; ++p) {
    const RailAddrs& a = addrs[static_cast<size_t>(p)];
    if (!(p == me ? needed : static_cast<bool>(ctx.useFor[static_cast<size_t>(p)]))) continue;
    if (a.count == 0 || a.count > kMaxRails) {
      closeListeners();
      return invalidUsage("rank " + std::to_string(me) + ": peer " + std::to_string(p) +
                          " published " + std::to_string(a.count) + " tcp rails (it failed its tcp setup?)");
    }
    for (uint32_t i = 0; i < a.count; ++i) {
      link::Nic nic;
      Status ws = link::fromWire(a.nics[i], &nic);
      if (!ws.isOk()) {
        closeListeners();
        return ws.withContext("rank " + std::to_string(me) + ": tcp rails of peer " + std::to_string(p));
      }
      nics[static_cast<size_t>(p)].push_back(nic);
    }
  }

  auto deadline = net::Deadline::in(std::chrono::milliseconds(ctx.timeoutMs), ctx.abort);
  // fds[peer][channel][path * nsocks + sock]
  std::vector<std::vector<std::vector<int>>> fds(static_cast<size_t>(n));
  std::vector<std::vector<std::pair<int, int>>> paths(static_cast<size_t>(n));
  int expectIncoming = 0;
  for (int p = 0; p < n; ++p) {
    if (!ctx.useFor[static_cast<size_t>(p)]) continue;
    const auto& lower = nics[static_cast<size_t>(std::min(p, me))];
    const auto& higher = nics[static_cast<size_t>(std::max(p, me))];
    // (NIC of the lower rank, NIC of the higher one): both ranks compute
    // the same list, so path k is the same pair on both sides.
    paths[static_cast<size_t>(p)] = link::matchRails(lower, higher);
    const int npaths = static_cast<int>(paths[static_cast<size_t>(p)].size());
    fds[static_cast<size_t>(p)].assign(static_cast<size_t>(ctx.nchannels),
                                       std::vector<int>(static_cast<size_t>(npaths * nsocks), -1));
    if (p < me) expectIncoming += ctx.nchannels * npaths * nsocks;
  }
  for (int p = me + 1; st.isOk() && p < n; ++p) {
    if (!ctx.useFor[static_cast<size_t>(p)]) continue;
    const auto& pp = paths[static_cast<size_t>(p)];
    for (int c = 0; st.isOk() && c < ctx.nchannels; ++c) {
      for (size_t k = 0; st.isOk() && k < pp.size(); ++k) {
        const link::Nic& from = mine[static_cast<size_t>(pp[k].first)];
        const auto& a = addrs[static_cast<size_t>(p)];
        net::SockAddr to = sockAddrOf(nics[static_cast<size_t>(p)][static_cast<size_t>(pp[k].second)],
                                      a.ports[pp[k].second]);
        net::SockAddr src = sockAddrOf(from, 0);
        for (int s = 0; st.isOk() && s < nsocks; ++s) {
          int fd = -1;
          st = net::connectTo(to, deadline, &fd, &src);
          ConnHello h{kConnMagic, b.secret(), me, c, static_cast<int32_t>(k), s};
          if (st.isOk()) st = net::sendAll(fd, &h, sizeof h, deadline);
          if (!st.isOk()) {
            net::closeFd(&fd);
            st = st.withContext("rank " + std::to_string(me) + ": tcp connect to peer " +
                                std::to_string(p) + " at " + to.str() + " from " + from.name);
            break;
          }
          fds[static_cast<size_t>(p)][static_cast<size_t>(c)][k * static_cast<size_t>(nsocks) + static_cast<size_t>(s)] = fd;
        }
      }
    }
  }
  // The lower ranks' connections, their hellos read side by side: a
  // stranger (or a stale peer of another job) costs no one a wait.
  net::HelloGate gate(listenFds, sizeof(ConnHello), "rank " + std::to_string(me) + ": tcp", log::Subsys::kNet,
                      [&](const void* bytes) -> std::string {
                        ConnHello h;
                        std::memcpy(&h, bytes, sizeof h);
                        if (h.magic != kConnMagic) return "not a connection hello (bad magic)";
                        if (!(h.secret == b.secret())) return "wrong secret (another job?)";
                        if (h.rank < 0 || h.rank >= me || !ctx.useFor[static_cast<size_t>(h.rank)]) {
                          return "rank " + std::to_string(h.rank) + " does not connect here";
                        }
                        if (h.channel < 0 || h.channel >= ctx.nchannels || h.path < 0 ||
                            h.path >= static_cast<int>(paths[static_cast<size_t>(h.rank)].size()) || h.sock < 0 ||
                            h.sock >= nsocks) {
                          return "channel " + std::to_string(h.channel) + ", path " + std::to_string(h.path) +
                                 ", socket " + std::to_string(h.sock) + " out of range";
                        }
                        if (fds[static_cast<size_t>(h.rank)][static_cast<size_t>(h.channel)]
                               [static_cast<size_t>(h.path * nsocks + h.sock)] >= 0) {
                          return "a second connection for the same slot";
                        }
                        return "";
                      });
  while (st.isOk() && expectIncoming > 0) {
    int fd = -1;
    ConnHello h{};
    st = gate.next(deadline, &fd, &h);
    if (!st.isOk()) {
      st = st.withContext("rank " + std::to_string(me) + ": tcp waiting for " +
                          std::to_string(expectIncoming) + " connections from lower ranks");
      break;
    }
    fds[static_cast<size_t>(h.rank)][static_cast<size_t>(h.channel)][static_cast<size_t>(h.path * nsocks + h.sock)] = fd;
    --expectIncoming;
  }
  closeListeners();
  if (!st.isOk()) {
    for (auto& pc : fds)
      for (auto& cs : pc)
        for (int& fd : cs) net::closeFd(&fd);
    return st;
  }

  const config::Params& params = *ctx.params;
  link::LinkOptions opt;
  opt.reroute = params.reroute;
  opt.probe = probe::probeConfigFromParams(params);
  opt.pathCapBytes = static_cast<size_t>(params.pathQueueBytes);
  if (!params.probeLog.empty()) {
    opt.log = probe::ProbeLog::forProcess(params.probeLog, me, opt.probe.logIntervalUs);
  }
  if (params.reroute) opt.nics = link::NicWatch::open();
  std::lock_guard<std::mutex> g(mu_);
  for (int p = 0; p < n; ++p) {
    if (!ctx.useFor[static_cast<size_t>(p)]) continue;
    const auto& pp = paths[static_cast<size_t>(p)];
    for (int c = 0; c < ctx.nchannels; ++c) {
      std::vector<link::PathDesc> descs;
      for (size_t k = 0; k < pp.size(); ++k) {
        // pp is (lower rank's NIC, higher rank's NIC).
        const int local = me < p ? pp[k].first : pp[k].second;
        const int remote = me < p ? pp[k].second : pp[k].first;
        for (int s = 0; s < nsocks; ++s) {
          int fd = fds[static_cast<size_t>(p)][static_cast<size_t>(c)][k * static_cast<size_t>(nsocks) + static_cast<size_t>(s)];
          tuneSocket(fd, params.sockBufBytes);
          fds_.push_back(fd);
          link::PathDesc d;
          d.fd = fd;
          d.rail = local;
          d.ifname = nics[static_cast<size_t>(me)][static_cast<size_t>(local)].name;
          d.localNic = nicText(nics[static_cast<size_t>(me)][static_cast<size_t>(local)]);
          d.remoteNic = nicText(nics[static_cast<size_t>(p)][static_cast<size_t>(remote)]);
          descs.push_back(std::move(d));
        }
      }
      if (c == 0) {
        MRD_LOG_INFO(kNet, "rank {} -> peer {}: {} tcp path(s) per channel{}", me, p, descs.size(),
                     descs.size() > 1 ? " (" + descs.front().localNic + " ... " + descs.back().localNic + ")" : "");
      }
      (*conns)[static_cast<size_t>(p)][static_cast<size_t>(c)] =
          std::make_unique<link::Link>(p, me, c, std::move(descs), opt);
    }
  }
  return Status::ok();
}

}  // namespace

std::unique_ptr<Transport> makeTcpTransport() { return std::make_unique<TcpTransport>(); }

}  // namespace mrd::transport::tcp
