#include "bootstrap/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "link/nic.h"

namespace mrd {

std::string errnoText(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

namespace net {

int SockAddr::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

void SockAddr::setPort(int port) {
  if (family() == AF_INET)
    reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(static_cast<uint16_t>(port));
  if (family() == AF_INET6)
    reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(static_cast<uint16_t>(port));
}

std::string SockAddr::str() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(port());
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf,
              sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(port());
  }
  return "(no address)";
}

SockAddr sockAddrFromBytes(int family, const uint8_t* addr, int port) {
  SockAddr a;
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
    in->sin_family = AF_INET;
    std::memcpy(&in->sin_addr, addr, 4);
    a.len = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    in6->sin6_family = AF_INET6;
    std::memcpy(&in6->sin6_addr, addr, 16);
    a.len = sizeof(sockaddr_in6);
  }
  a.setPort(port);
  return a;
}

Status resolveHost(const std::string& host, int port, SockAddr* out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return invalidUsage("cannot resolve host '" + host + "': " + gai_strerror(rc));
  }
  std::memcpy(&out->storage, res->ai_addr, res->ai_addrlen);
  out->len = res->ai_addrlen;
  out->setPort(port);
  freeaddrinfo(res);
  return Status::ok();
}

namespace {

// MRD_SOCKET_IFNAME in NCCL's syntax (prefixes, ^ excludes, = exact): the
// same reading as the TCP transport's (link/nic.h).
bool matchesSpec(const std::string& spec, const std::string& name) {
  return link::matchesSpec(link::parseIfnameSpec(spec), name);
}

}  // namespace

Status chooseLocalAddress(const std::string& spec, SockAddr* out, std::string* ifname) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return systemError(errnoText("getifaddrs", errno));
  // Two passes: non-loopback first, then loopback; IPv4 before IPv6 in each.
  const ifaddrs* best = nullptr;
  int bestScore = -1;
  for (const ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr || !(ifa->ifa_flags & IFF_UP)) continue;
    int fam = ifa->ifa_addr->sa_family;
    if (fam != AF_INET && fam != AF_INET6) continue;
    if (fam == AF_INET6) {
      auto* a6 = reinterpret_cast<const sockaddr_in6*>(ifa->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr)) continue;  // needs a scope id
    }
    if (!matchesSpec(spec, ifa->ifa_name)) continue;
    bool loop = (ifa->ifa_flags & IFF_LOOPBACK) != 0;
    if (spec.empty() && (std::strncmp(ifa->ifa_name, "docker", 6) == 0 ||
                         std::strncmp(ifa->ifa_name, "virbr", 5) == 0)) {
      continue;
    }
    int score = (loop ? 0 : 2) + (fam == AF_INET ? 1 : 0);
    if (score > bestScore) {
      bestScore = score;
      best = ifa;
    }
  }
  Status st = Status::ok();
  if (best == nullptr) {
    st = invalidUsage("no usable network interface matches MRD_SOCKET_IFNAME='" + spec + "'");
  } else {
    size_t len = best->ifa_addr->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    std::memset(&out->storage, 0, sizeof out->storage);
    std::memcpy(&out->storage, best->ifa_addr, len);
    out->len = static_cast<socklen_t>(len);
    out->setPort(0);
    if (ifname != nullptr) *ifname = best->ifa_name;
  }
  freeifaddrs(list);
  return st;
}

int Deadline::pollSliceMs() const {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at - Clock::now()).count();
  if (left < 0) return 0;
  return left > 100 ? 100 : static_cast<int>(left);
}

void setNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

void setNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void closeFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

Status listenOn(const SockAddr& addr, int backlog, int* fd, SockAddr* bound) {
  int s = socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return systemError(errnoText("socket", errno));
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(s, addr.sa(), addr.len) != 0 || listen(s, backlog) != 0) {
    int e = errno;
    close(s);
    return systemError(errnoText("bind/listen on " + addr.str(), e));
  }
  setNonBlocking(s);
  bound->len = sizeof bound->storage;
  getsockname(s, bound->sa(), &bound->len);
  *fd = s;
  return Status::ok();
}

Status connectTo(const SockAddr& addr, const Deadline& d, int* fd, const SockAddr* from) {
  int lastErr = 0;
  int backoffMs = 1;
  while (!d.expired()) {
    if (d.aborted()) return remoteError("connect to " + addr.str() + " aborted");
    int s = socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) return systemError(errnoText("socket", errno));
    if (from != nullptr && bind(s, from->sa(), from->len) != 0) {
      int e = errno;
      close(s);
      return systemError(errnoText("bind to " + from->str() + " before connecting to " + addr.str(), e));
    }
    int rc = connect(s, addr.sa(), addr.len);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{s, POLLOUT, 0};
      // (A signal, such as a hang report's SIGUSR1, only interrupts the poll.)
      while (!d.expired() && !d.aborted() &&
             ((rc = poll(&p, 1, d.pollSliceMs())) == 0 || (rc < 0 && errno == EINTR))) {
      }
      int err = 0;
      socklen_t el = sizeof err;
      getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
      rc = (rc > 0 && err == 0) ? 0 : -1;
      errno = err != 0 ? err : ETIMEDOUT;
    }
    if (rc == 0) {
      setNoDelay(s);
      *fd = s;
      return Status::ok();
    }
    lastErr = errno;
    close(s);
    if (lastErr != ECONNREFUSED && lastErr != ETIMEDOUT && lastErr != EAGAIN) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(backoffMs));
    backoffMs = backoffMs < 100 ? backoffMs * 2 : 100;
  }
  return Status(lastErr == 0 || lastErr == ETIMEDOUT ? mrdTimeout : mrdSystemError,
                errnoText("connect to " + addr.str(), lastErr == 0 ? ETIMEDOUT : lastErr));
}

Status acceptOne(int listenFd, const Deadline& d, int* fd) {
  pollfd p{listenFd, POLLIN, 0};
  while (true) {
    int s = accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (s >= 0) {
      setNoDelay(s);
      *fd = s;
      return Status::ok();
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return systemError(errnoText("accept", errno));
    if (d.aborted()) return remoteError("accept aborted");
    if (d.expired()) return timeoutError("accept: no connection before the deadline");
    poll(&p, 1, d.pollSliceMs());
  }
}

Status sendRecvAll(int sendFd, const void* sbuf, size_t slen, int recvFd, void* rbuf,
                   size_t rlen, const Deadline& d) {
  const char* sp = static_cast<const char*>(sbuf);
  char* rp = static_cast<char*>(rbuf);
  size_t sent = 0, got = 0;
  while (sent < slen || got < rlen) {
    bool moved = false;
    if (sent < slen) {
      ssize_t n = send(sendFd, sp + sent, slen - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        moved = true;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return remoteError(errnoText("send", errno));
      }
    }
    if (got < rlen) {
      ssize_t n = recv(recvFd, rp + got, rlen - got, 0);
      if (n > 0) {
        got += static_cast<size_t>(n);
        moved = true;
      } else if (n == 0) {
        return remoteError("connection closed by peer");
      } else if (errno != EAGAIN && errno != EINTR) {
        return remoteError(errnoText("recv", errno));
      }
    }
    if (moved) continue;
    if (d.aborted()) return remoteError("aborted");
    if (d.expired()) return timeoutError("no data before the deadline");
    pollfd p[2];
    int np = 0;
    if (sent < slen) p[np++] = pollfd{sendFd, POLLOUT, 0};
    if (got < rlen) p[np++] = pollfd{recvFd, POLLIN, 0};
    poll(p, np, d.pollSliceMs());
  }
  return Status::ok();
}

Status sendAll(int fd, const void* buf, size_t len, const Deadline& d) {
  return sendRecvAll(fd, buf, len, -1, nullptr, 0, d);
}

Status recvAll(int fd, void* buf, size_t len, const Deadline& d) {
  return sendRecvAll(-1, nullptr, 0, fd, buf, len, d);
}

}  // namespace net
}  // namespace mrd
