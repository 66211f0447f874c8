#include "bootstrap/root.h"

#include <poll.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "bootstrap/wire_check.h"
#include "config/params.h"
#include "log/log.h"

namespace mrd::bootstrap {
namespace {

using namespace std::chrono_literals;

// A connection that has not finished its Hello yet.
struct Pending {
  int fd;
  net::Clock::time_point deadline;
  Hello hello;
  size_t got = 0;
};

struct Registered {
  int fd;
  Hello hello;
};

class Root {
 public:
  Root(int listenFd, const Secret& secret) : listenFd_(listenFd), secret_(secret) {}

  void run() {
    while (!done_) {
      pollOnce();
      expireStale();
      if (failed_ && net::Clock::now() > failedUntil_) break;
      if (registered_.empty() && pending_.empty() && net::Clock::now() > idleUntil_) break;
      if (!registered_.empty() && !failed_ && net::Clock::now() > idleUntil_) {
        fail(mrdTimeout, "timed out waiting for " + std::to_string(nranks_ - static_cast<int>(registered_.size())) +
             " of " + std::to_string(nranks_) + " ranks to join");
      }
    }
    for (auto& p : pending_) net::closeFd(&p.fd);
    for (auto& r : registered_) net::closeFd(&r.fd);
    net::closeFd(&listenFd_);
  }

 private:
  void pollOnce() {
    std::vector<pollfd> fds;
    fds.push_back({listenFd_, POLLIN, 0});
    for (auto& p : pending_) fds.push_back({p.fd, POLLIN, 0});
    poll(fds.data(), fds.size(), 200);
    if (fds[0].revents & POLLIN) acceptAll();
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0) readHello(fds[i].fd);
    }
    pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                  [](const Pending& p) { return p.fd < 0; }),
                   pending_.end());
  }

  void acceptAll() {
    while (true) {
      int fd = accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) return;
      if (pending_.size() >= kMaxPending) {
        // A flood of connections that say nothing must not lock the ranks
        // out: the one waiting longest goes (a rank's hello comes at once,
        // and is read in the next round).
        for (auto& q : pending_) {
          if (q.fd < 0) continue;
          if (evicted_++ % 1000 == 0) {
            MRD_LOG_WARN(kBootstrap, "bootstrap root: refused a connection: {} newer ones wait to say hello ({} so far)",
                         kMaxPending, evicted_);
          }
          net::closeFd(&q.fd);
          break;
        }
        pending_.erase(std::remove_if(pending_.begin(), pending_.end(), [](const Pending& q) { return q.fd < 0; }),
                       pending_.end());
      }
      Pending p{fd, net::Clock::now() + kHelloWithin, {}, 0};
      pending_.push_back(p);
    }
  }

  void refuse(Pending& p, const std::string& why) {
    MRD_LOG_WARN(kBootstrap, "bootstrap root: refused a connection: {}", why);
    net::closeFd(&p.fd);
  }

  void readHello(int fd) {
    for (auto& p : pending_) {
      if (p.fd != fd) continue;
      ssize_t n = recv(fd, reinterpret_cast<char*>(&p.hello) + p.got, sizeof(Hello) - p.got, 0);
      if (n == 0) return refuse(p, "closed before a whole hello");
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) refuse(p, errnoText("recv", errno));
        return;
      }
      p.got += static_cast<size_t>(n);
      std::string why;
      const HelloVerdict v = judgeHello(&p.hello, p.got, secret_, &why);
      if (v == HelloVerdict::kNeedMore) return;
      if (v == HelloVerdict::kRefuse) {
        // A rank of this job (it knows the secret) is told why.
        if (p.got == sizeof(Hello) && p.hello.secret == secret_) sendReply(p.fd, mrdInvalidUsage, why, false);
        return refuse(p, why);
      }
      // A whole hello; anything sent beyond it is garbage we never read.
      Registered r{p.fd, p.hello};
      p.fd = -1;
      accept(r);
      return;
    }
  }

  void expireStale() {
    auto now = net::Clock::now();
    for (auto& p : pending_) {
      if (p.fd >= 0 && now > p.deadline) refuse(p, "no complete hello within 10 s");
    }
  }

  void sendReply(int fd, mrdResult_t result, const std::string& msg, bool withTable) {
    Reply rep{};
    rep.magic = kReplyMagic;
    rep.result = result;
    rep.nranks = nranks_;
    std::snprintf(rep.message, sizeof rep.message, "%s", msg.c_str());
    auto d = net::Deadline::in(10s);
    Status st = net::sendAll(fd, &rep, sizeof rep, d);
    if (st.isOk() && withTable) st = net::sendAll(fd, table_.data(), table_.size() * sizeof(RankInfo), d);
    if (!st.isOk()) MRD_LOG_WARN(kBootstrap, "bootstrap root: reply failed: {}", st.message());
  }

  // code: mrdTimeout when ranks never came, mrdInvalidUsage for a mismatch.
  void fail(mrdResult_t code, const std::string& why) {
    MRD_LOG_WARN(kBootstrap, "bootstrap root: {}", why);
    for (auto& r : registered_) {
      sendReply(r.fd, code, why, false);
      net::closeFd(&r.fd);
    }
    registered_.clear();
    failed_ = true;
    failReason_ = why;
    failCode_ = code;
    failedUntil_ = net::Clock::now() + 30s;
  }

  void accept(Registered r) {
    const Hello& h = r.hello;
    if (failed_) {
      sendReply(r.fd, failCode_, failReason_, false);
      net::closeFd(&r.fd);
      return;
    }
    // (rank and nranks are in range: judgeHello.)
    if (nranks_ == 0) {
      nranks_ = h.nranks;
      table_.assign(static_cast<size_t>(nranks_), RankInfo{});
      seen_.assign(static_cast<size_t>(nranks_), false);
    }
    registered_.push_back(r);
    idleUntil_ = net::Clock::now() + std::chrono::milliseconds(config::processParams().timeoutMs);
    if (h.nranks != nranks_) {
      return fail(mrdInvalidUsage, "mismatched init: rank " + std::to_string(h.rank) + " says nranks=" +
                  std::to_string(h.nranks) + " but another rank said " + std::to_string(nranks_));
    }
    if (seen_[static_cast<size_t>(h.rank)]) {
      return fail(mrdInvalidUsage, "mismatched init: rank " + std::to_string(h.rank) + " joined twice");
    }
    seen_[static_cast<size_t>(h.rank)] = true;
    table_[static_cast<size_t>(h.rank)] = h.info;
    if (static_cast<int>(registered_.size()) < nranks_) return;
    for (auto& reg : registered_) {
      sendReply(reg.fd, mrdSuccess, "", true);
      net::closeFd(&reg.fd);
    }
    registered_.clear();
    done_ = true;
  }

  // Connections not yet authenticated: how many, and for how long.
  static constexpr size_t kMaxPending = 256;
  static constexpr auto kHelloWithin = 10s;
  size_t evicted_ = 0;
  int listenFd_;
  Secret secret_;
  int nranks_ = 0;
  std::vector<Pending> pending_;
  std::vector<Registered> registered_;
  std::vector<RankInfo> table_;
  std::vector<bool> seen_;
  bool done_ = false;
  bool failed_ = false;
  std::string failReason_;
  mrdResult_t failCode_ = mrdInvalidUsage;
  net::Clock::time_point failedUntil_;
  // A root nobody talks to lives as long as the longest wait a rank allows.
  net::Clock::time_point idleUntil_ =
      net::Clock::now() + std::chrono::milliseconds(config::processParams().timeoutMs);
};

Secret deriveSecret(const std::string& text) {
  // FNV-1a over the address, spread over 16 bytes: not secret, but equal on
  // every rank that was given the same rendezvous address.
  Secret s{};
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < kSecretBytes; ++i) {
    for (char c : text) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
    h = (h ^ i) * 1099511628211ULL;
    s.bytes[i] = static_cast<uint8_t>(h >> 24);
  }
  return s;
}

void encode(const net::SockAddr& addr, const Secret& secret, bool pinned, mrdUniqueId* id) {
  IdPayload p{};
  p.magic = kIdMagic;
  p.version = kWireVersion;
  p.pinned = pinned ? 1 : 0;
  p.root = toWire(addr);
  p.secret = secret;
  std::memset(id, 0, sizeof *id);
  std::memcpy(id->internal, &p, sizeof p);
}

}  // namespace

WireAddr toWire(const net::SockAddr& a) {
  WireAddr w{};
  w.family = static_cast<uint16_t>(a.family());
  w.port = static_cast<uint16_t>(a.port());
  if (a.family() == AF_INET) {
    std::memcpy(w.addr, &reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr, 4);
  } else if (a.family() == AF_INET6) {
    std::memcpy(w.addr, &reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_addr, 16);
  }
  return w;
}

net::SockAddr fromWire(const WireAddr& w) {
  return net::sockAddrFromBytes(w.family == AF_INET ? AF_INET : AF_INET6, w.addr, w.port);
}

Status startRoot(const net::SockAddr& at, const Secret& secret, net::SockAddr* bound) {
  int fd = -1;
  MRD_TRY(net::listenOn(at, 1024, &fd, bound));
  std::thread([fd, secret] { Root(fd, secret).run(); }).detach();
  MRD_LOG_INFO(kBootstrap, "bootstrap root listening on {}", bound->str());
  return Status::ok();
}

Status createUniqueId(mrdUniqueId* id) {
  const config::Params& params = config::processParams();
  if (!params.commId.empty()) {
    std::string host;
    int port = 0;
    size_t colon = params.commId.rfind(':');
    if (colon == std::string::npos) return invalidUsage("MRD_COMM_ID must be host:port");
    host = params.commId.substr(0, colon);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    port = std::atoi(params.commId.c_str() + colon + 1);
    if (port <= 0 || port > 65535) return invalidUsage("MRD_COMM_ID has a bad port");
    return pinnedUniqueId(host, port, id);
  }
  return freshUniqueId(id);
}

Status freshUniqueId(mrdUniqueId* id) {
  const config::Params& params = config::processParams();
  net::SockAddr local, bound;
  std::string ifname;
  MRD_TRY(net::chooseLocalAddress(params.socketIfname, &local, &ifname));
  Secret secret{};
  if (getrandom(secret.bytes, kSecretBytes, 0) != static_cast<ssize_t>(kSecretBytes)) {
    return systemError(errnoText("getrandom", errno));
  }
  MRD_TRY(startRoot(local, secret, &bound));
  encode(bound, secret, false, id);
  return Status::ok();
}

Status pinnedUniqueId(const std::string& host, int port, mrdUniqueId* id) {
  net::SockAddr addr;
  MRD_TRY(net::resolveHost(host, port, &addr));
  encode(addr, deriveSecret(addr.str()), true, id);
  return Status::ok();
}

Status decodeUniqueId(const mrdUniqueId& id, IdPayload* out) {
  std::memcpy(out, id.internal, sizeof *out);
  if (out->magic != kIdMagic || out->version != kWireVersion ||
      (out->root.family != AF_INET && out->root.family != AF_INET6)) {
    return invalidArgument("not a valid mrdUniqueId (bad magic or version)");
  }
  return Status::ok();
}

}  // namespace mrd::bootstrap
