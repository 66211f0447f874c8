#include "bootstrap/hello_gate.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace mrd::net {

HelloGate::HelloGate(std::vector<int> listenFds, size_t helloBytes, std::string who, log::Subsys subsys,
                     Judge judge)
    : listenFds_(std::move(listenFds)), helloBytes_(helloBytes), who_(std::move(who)), subsys_(subsys),
      judge_(std::move(judge)) {}

HelloGate::~HelloGate() {
  // Strangers still waiting once the peers are in are refused too.
  for (Pending& p : pending_) {
    if (p.fd >= 0) refuse(p, "still no whole hello when the listener closed (" + std::to_string(p.got) + " bytes)");
  }
}

void HelloGate::refuse(Pending& p, const std::string& why) {
  log::get(subsys_).warn("{}: refused a connection from {}: {}", who_, p.from, why);
  ++refused_;
  closeFd(&p.fd);
}

void HelloGate::dropClosed() {
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(), [](const Pending& p) { return p.fd < 0; }),
                 pending_.end());
}

void HelloGate::acceptAll() {
  for (int l : listenFds_) {
    while (true) {
      SockAddr from;
      from.len = sizeof from.storage;
      const int fd = accept4(l, from.sa(), &from.len, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) break;
      setNoDelay(fd);
      if (pending_.size() >= kMaxPending) {
        // A flood that says nothing must not lock the peers out: the
        // connection waiting longest goes (a peer's hello comes at once).
        refuse(pending_.front(), std::to_string(kMaxPending) + " newer connections wait to say hello");
        dropClosed();
      }
      Pending p;
      p.fd = fd;
      p.deadline = Clock::now() + kHelloWithin;
      p.from = from.str();
      p.buf.resize(helloBytes_);
      pending_.push_back(std::move(p));
    }
  }
}

bool HelloGate::readSome(Pending& p) {
  while (p.got < helloBytes_) {
    const ssize_t n = recv(p.fd, p.buf.data() + p.got, helloBytes_ - p.got, 0);
    if (n > 0) {
      p.got += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) {
      refuse(p, "closed after " + std::to_string(p.got) + " of the hello's " + std::to_string(helloBytes_) + " bytes");
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      refuse(p, errnoText("recv", errno));
    }
    return false;
  }
  return true;
}

Status HelloGate::next(const Deadline& d, int* fd, void* hello) {
  std::vector<pollfd> fds;
  while (true) {
    acceptAll();
    const auto now = Clock::now();
    for (Pending& p : pending_) {
      if (p.fd < 0 || !readSome(p)) {
        if (p.fd >= 0 && now > p.deadline) {
          refuse(p, "no whole hello within " + std::to_string(kHelloWithin.count()) + " ms (" + std::to_string(p.got) +
                        " of " + std::to_string(helloBytes_) + " bytes)");
        }
        continue;
      }
      const std::string why = judge_(p.buf.data());
      if (!why.empty()) {
        refuse(p, why);
        continue;
      }
      *fd = p.fd;
      std::copy(p.buf.begin(), p.buf.end(), static_cast<char*>(hello));
      p.fd = -1;
      dropClosed();
      return Status::ok();
    }
    dropClosed();
    if (d.aborted()) return remoteError("accept aborted");
    if (d.expired()) return timeoutError("no connection with a valid hello before the deadline");
    fds.clear();
    for (int l : listenFds_) fds.push_back(pollfd{l, POLLIN, 0});
    for (const Pending& p : pending_) fds.push_back(pollfd{p.fd, POLLIN, 0});
    poll(fds.data(), fds.size(), d.pollSliceMs());
  }
}

}  // namespace mrd::net
