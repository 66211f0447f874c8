// Small socket helpers shared by the bootstrap and the TCP transport: address
// selection (MRD_SOCKET_IFNAME), listen/connect/accept with deadlines, and
// exact-length send/recv that poll instead of blocking forever.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace mrd::net {

using Clock = std::chrono::steady_clock;

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;

  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* sa() { return reinterpret_cast<sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  int port() const;
  void setPort(int port);
  std::string str() const;  // "10.0.0.1:5000" or "[fd00::1]:5000"
};

// An address from its family (AF_INET or AF_INET6), raw bytes in network
// order (4 or 16) and port, as exchanged over the wire.
SockAddr sockAddrFromBytes(int family, const uint8_t* addr, int port);

// Resolves "host" (name or literal) to an address with the given port.
Status resolveHost(const std::string& host, int port, SockAddr* out);

// The address to listen on: the first interface matching ifnameSpec
// ("eth0", "eth", "^docker,lo": prefix match, ^ excludes), else the first
// usable non-loopback interface, loopback last. Port 0.
Status chooseLocalAddress(const std::string& ifnameSpec, SockAddr* out, std::string* ifname);

// A deadline that also gives up when *abortFlag becomes true.
struct Deadline {
  Clock::time_point at;
  const std::atomic<bool>* abortFlag = nullptr;

  static Deadline in(std::chrono::milliseconds ms, const std::atomic<bool>* abort = nullptr) {
    return Deadline{Clock::now() + ms, abort};
  }
  bool aborted() const { return abortFlag != nullptr && abortFlag->load(); }
  // Milliseconds left, capped at 100 so waits notice an abort promptly.
  int pollSliceMs() const;
  bool expired() const { return Clock::now() >= at; }
};

// Listens on addr (port 0 picks one); *bound gets the actual address.
Status listenOn(const SockAddr& addr, int backlog, int* fd, SockAddr* bound);
// Connects, retrying refused connections until the deadline (the listener
// may not be up yet). The returned socket is blocking-off (O_NONBLOCK).
// With `from`, the socket is bound to that local address first (the NIC a
// path must leave by).
Status connectTo(const SockAddr& addr, const Deadline& d, int* fd, const SockAddr* from = nullptr);
// Accepts one connection (O_NONBLOCK) or fails at the deadline.
Status acceptOne(int listenFd, const Deadline& d, int* fd);

// Exact-length transfers on a non-blocking socket, polling until done.
Status sendAll(int fd, const void* buf, size_t len, const Deadline& d);
Status recvAll(int fd, void* buf, size_t len, const Deadline& d);
// Sends to one socket while receiving from another (ring steps), so two
// ranks that both send first cannot deadlock on full socket buffers.
Status sendRecvAll(int sendFd, const void* sbuf, size_t slen, int recvFd, void* rbuf,
                   size_t rlen, const Deadline& d);

void setNonBlocking(int fd);
void setNoDelay(int fd);
void closeFd(int* fd);

}  // namespace mrd::net
