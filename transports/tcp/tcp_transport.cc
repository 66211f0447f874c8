// Connection setup for TCP: every rank listens on one port, the addresses
// are exchanged over the bootstrap, and for each pair the lower rank
// connects (nchannels x nsocks sockets) while the higher one accepts. Each
// new socket first says who it is (secret, rank, channel, socket index), so
// strays are refused.
#include "tcp_transport.h"

#include <sys/socket.h>

#include <cstring>
#include <mutex>

#include "bootstrap/bootstrap.h"
#include "config/params.h"
#include "log/log.h"
#include "tcp_connection.h"

namespace mrd::transport::tcp {
namespace {

constexpr uint32_t kConnMagic = 0x4d524454;  // "MRDT"

struct ConnHello {
  uint32_t magic;
  bootstrap::Secret secret;
  int32_t rank;
  int32_t channel;
  int32_t sock;
};

struct ListenAddr {
  uint32_t len;
  sockaddr_storage addr;
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

Status TcpTransport::connect(const SetupContext& ctx, ConnectionTable* conns) {
  bootstrap::Bootstrap& b = *ctx.bootstrap;
  const int me = b.rank(), n = b.nranks();
  const int nsocks = ctx.params->nsocksPerPeer;
  bool needed = false;
  for (bool u : ctx.useFor) needed = needed || u;

  // Everyone takes part in the exchange; ranks with no TCP peer send an empty address.
  int listenFd = -1;
  std::vector<ListenAddr> addrs(static_cast<size_t>(n));
  if (needed) {
    net::SockAddr local, bound;
    std::string ifname;
    MRD_TRY(net::chooseLocalAddress(ctx.params->socketIfname, &local, &ifname));
    MRD_TRY(net::listenOn(local, 1024, &listenFd, &bound));
    addrs[static_cast<size_t>(me)] = ListenAddr{bound.len, bound.storage};
    MRD_LOG_INFO(kNet, "tcp listening on {} ({})", bound.str(), ifname);
  }
  Status st = b.allgather(addrs.data(), sizeof(ListenAddr));
  auto deadline = net::Deadline::in(std::chrono::milliseconds(ctx.timeoutMs), ctx.abort);
  // fds[peer][channel][sock]
  std::vector<std::vector<std::vector<int>>> fds(
      static_cast<size_t>(n),
      std::vector<std::vector<int>>(static_cast<size_t>(ctx.nchannels),
                                    std::vector<int>(static_cast<size_t>(nsocks), -1)));
  int expectIncoming = 0;
  for (int p = 0; st.isOk() && p < n; ++p) {
    if (!ctx.useFor[static_cast<size_t>(p)]) continue;
    if (p < me) {
      expectIncoming += ctx.nchannels * nsocks;
      continue;
    }
    net::SockAddr to;
    to.storage = addrs[static_cast<size_t>(p)].addr;
    to.len = addrs[static_cast<size_t>(p)].len;
    for (int c = 0; st.isOk() && c < ctx.nchannels; ++c) {
      for (int s = 0; st.isOk() && s < nsocks; ++s) {
        int fd = -1;
        st = net::connectTo(to, deadline, &fd);
        ConnHello h{kConnMagic, b.secret(), me, c, s};
        if (st.isOk()) st = net::sendAll(fd, &h, sizeof h, deadline);
        if (!st.isOk()) {
          net::closeFd(&fd);
          st = st.withContext("rank " + std::to_string(me) + ": tcp connect to peer " +
                              std::to_string(p) + " at " + to.str());
          break;
        }
        fds[static_cast<size_t>(p)][static_cast<size_t>(c)][static_cast<size_t>(s)] = fd;
      }
    }
  }
  while (st.isOk() && expectIncoming > 0) {
    int fd = -1;
    st = net::acceptOne(listenFd, deadline, &fd);
    if (!st.isOk()) {
      st = st.withContext("rank " + std::to_string(me) + ": tcp waiting for " +
                          std::to_string(expectIncoming) + " connections from lower ranks");
      break;
    }
    ConnHello h{};
    Status hs = net::recvAll(fd, &h, sizeof h, net::Deadline::in(std::chrono::seconds(5), ctx.abort));
    bool valid = hs.isOk() && h.magic == kConnMagic && h.secret == b.secret() && h.rank >= 0 &&
                 h.rank < me && ctx.useFor[static_cast<size_t>(h.rank)] && h.channel >= 0 &&
                 h.channel < ctx.nchannels && h.sock >= 0 && h.sock < nsocks;
    int* slot = valid ? &fds[static_cast<size_t>(h.rank)][static_cast<size_t>(h.channel)]
                            [static_cast<size_t>(h.sock)]
                      : nullptr;
    if (slot == nullptr || *slot >= 0) {
      MRD_LOG_WARN(kNet, "rank {}: refused a stray tcp connection", me);
      net::closeFd(&fd);
      continue;
    }
    *slot = fd;
    --expectIncoming;
  }
  net::closeFd(&listenFd);
  if (!st.isOk()) {
    for (auto& pc : fds)
      for (auto& cs : pc)
        for (int& fd : cs) net::closeFd(&fd);
    return st;
  }
  std::lock_guard<std::mutex> g(mu_);
  for (int p = 0; p < n; ++p) {
    if (!ctx.useFor[static_cast<size_t>(p)]) continue;
    for (int c = 0; c < ctx.nchannels; ++c) {
      auto& socks = fds[static_cast<size_t>(p)][static_cast<size_t>(c)];
      for (int fd : socks) {
        tuneSocket(fd, ctx.params->sockBufBytes);
        fds_.push_back(fd);
      }
      (*conns)[static_cast<size_t>(p)][static_cast<size_t>(c)] =
          std::make_unique<TcpConnection>(p, me, socks);
    }
  }
  return Status::ok();
}

}  // namespace

std::unique_ptr<Transport> makeTcpTransport() { return std::make_unique<TcpTransport>(); }

}  // namespace mrd::transport::tcp
