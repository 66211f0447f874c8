#include "tcp_connection.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace mrd::transport::tcp {
namespace {

constexpr uint32_t kData = 0, kPing = 1, kPong = 2;
// Below this a message travels whole on the first socket: splitting costs
// more in headers and wake-ups than it gains.
constexpr size_t kSplitMinBytes = 64 << 10;

uint64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

bool wouldBlock(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

}  // namespace

TcpConnection::TcpConnection(int peer, int selfRank, std::vector<int> fds)
    : peer_(peer), self_(selfRank) {
  socks_.resize(fds.size());
  for (size_t i = 0; i < fds.size(); ++i) socks_[i].fd = fds[i];
}

TcpConnection::~TcpConnection() {
  for (auto& s : socks_) {
    if (s.fd >= 0) close(s.fd);
  }
}

Status TcpConnection::peerError(const std::string& what) const {
  return remoteError("rank " + std::to_string(self_) + " <-> peer " + std::to_string(peer_) +
                     " (tcp): " + what);
}

void TcpConnection::pieceOf(size_t bytes, size_t i, size_t* offset, size_t* len) const {
  size_t n = socks_.size();
  if (n == 1 || bytes < kSplitMinBytes) {
    *offset = 0;
    *len = i == 0 ? bytes : 0;
    return;
  }
  size_t per = ((bytes + n - 1) / n + 4095) & ~size_t{4095};
  size_t begin = per * i < bytes ? per * i : bytes;
  size_t end = per * (i + 1) < bytes ? per * (i + 1) : bytes;
  *offset = begin;
  *len = end - begin;
}

Status TcpConnection::postSend(Request* r) {
  r->progressed = 0;
  r->done = false;
  for (size_t i = 0; i < socks_.size(); ++i) {
    Piece p;
    pieceOf(r->bytes, i, &p.offset, &p.len);
    if (p.len == 0 && i != 0) continue;
    p.req = r;
    p.hdr = WireHeader{r->tag, r->bytes, kData, 0, 0};
    socks_[i].sends.push(p);
  }
  return Status::ok();
}

Status TcpConnection::postRecv(Request* r) {
  r->progressed = 0;
  r->done = false;
  for (size_t i = 0; i < socks_.size(); ++i) {
    Piece p;
    pieceOf(r->bytes, i, &p.offset, &p.len);
    if (p.len == 0 && i != 0) continue;
    p.req = r;
    socks_[i].recvs.push(p);
  }
  return Status::ok();
}

Status TcpConnection::probe() {
  Piece p;
  p.hdr = WireHeader{0, 0, kPing, 0, nowNs()};
  probe_ = ProbeSample{p.hdr.stampNs, 0};
  socks_[0].sends.push(p);
  return Status::ok();
}

void TcpConnection::addPollFds(std::vector<pollfd>* fds) const {
  for (const Socket& s : socks_) {
    // Readable data we would not read yet (no receive posted, header in
    // hand) must not wake us, or poll() returns at once forever.
    bool wantIn = !s.eof && (s.inHdrGot < sizeof(WireHeader) || !s.recvs.empty());
    short events = static_cast<short>((wantIn ? POLLIN : 0) | (s.sends.empty() ? 0 : POLLOUT));
    if (events != 0) fds->push_back(pollfd{s.fd, events, 0});
  }
}

static void completePiece(Request* r, size_t len) {
  if (r == nullptr) return;
  r->progressed += len;
  if (r->progressed == r->bytes) r->done = true;
}

Status TcpConnection::progressSend(Socket& s, bool* moved) {
  while (!s.sends.empty()) {
    Piece& p = s.sends.front();
    constexpr size_t kHdr = sizeof(WireHeader);
    iovec iov[2];
    int n = 0;
    if (s.sendDone < kHdr) {
      iov[n++] = {reinterpret_cast<char*>(&p.hdr) + s.sendDone, kHdr - s.sendDone};
    }
    size_t payloadDone = s.sendDone > kHdr ? s.sendDone - kHdr : 0;
    if (p.len > payloadDone) {
      iov[n++] = {static_cast<char*>(p.req->buf) + p.offset + payloadDone, p.len - payloadDone};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    ssize_t w = sendmsg(s.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (wouldBlock(errno)) return Status::ok();
      return peerError(errnoText("send", errno));
    }
    *moved = true;
    s.sendDone += static_cast<size_t>(w);
    if (s.sendDone < kHdr + p.len) return Status::ok();
    completePiece(p.req, p.len);
    s.sendDone = 0;
    s.sends.pop();
  }
  return Status::ok();
}

Status TcpConnection::handleControl(Socket& s) {
  if (s.inHdr.kind == kPing) {
    Piece pong;
    pong.hdr = WireHeader{0, 0, kPong, 0, s.inHdr.stampNs};
    socks_[0].sends.push(pong);
  } else if (s.inHdr.kind == kPong) {
    if (s.inHdr.stampNs == probe_.sentNs) probe_.rttNs = nowNs() - probe_.sentNs;
  } else {
    return peerError("unknown message kind " + std::to_string(s.inHdr.kind) +
                     " (corrupt stream or version mismatch)");
  }
  s.inHdrGot = 0;
  return Status::ok();
}

Status TcpConnection::progressRecv(Socket& s, bool* moved) {
  while (true) {
    constexpr size_t kHdr = sizeof(WireHeader);
    if (s.eof) {
      // A peer that finished and destroyed its communicator closes its
      // sockets; that is only an error if we still expect data from it.
      return s.recvs.empty() ? Status::ok() : peerError("connection closed by the peer");
    }
    if (s.inHdrGot < kHdr) {
      ssize_t r = recv(s.fd, reinterpret_cast<char*>(&s.inHdr) + s.inHdrGot, kHdr - s.inHdrGot,
                       MSG_DONTWAIT);
      if (r == 0 && s.inHdrGot == 0) {
        s.eof = true;
        continue;
      }
      if (r == 0) return peerError("connection closed by the peer");
      if (r < 0) return wouldBlock(errno) ? Status::ok() : peerError(errnoText("recv", errno));
      *moved = true;
      s.inHdrGot += static_cast<size_t>(r);
      if (s.inHdrGot < kHdr) return Status::ok();
      if (s.inHdr.kind != kData) {
        MRD_TRY(handleControl(s));
        continue;
      }
    }
    if (s.recvs.empty()) return Status::ok();  // the data waits for a posted receive
    Piece& p = s.recvs.front();
    if (s.recvDone == 0 && (s.inHdr.tag != p.req->tag || s.inHdr.bytes != p.req->bytes)) {
      return peerError("message mismatch: expected tag " + std::to_string(p.req->tag) + " of " +
                       std::to_string(p.req->bytes) + " bytes, got tag " +
                       std::to_string(s.inHdr.tag) + " of " + std::to_string(s.inHdr.bytes) +
                       " bytes (operations issued in a different order on the two ranks?)");
    }
    while (s.recvDone < p.len) {
      ssize_t r = recv(s.fd, static_cast<char*>(p.req->buf) + p.offset + s.recvDone,
                       p.len - s.recvDone, MSG_DONTWAIT);
      if (r == 0) return peerError("connection closed by the peer");
      if (r < 0) return wouldBlock(errno) ? Status::ok() : peerError(errnoText("recv", errno));
      *moved = true;
      s.recvDone += static_cast<size_t>(r);
    }
    completePiece(p.req, p.len);
    s.recvs.pop();
    s.recvDone = 0;
    s.inHdrGot = 0;
  }
}

Status TcpConnection::progress(bool* moved) {
  for (auto& s : socks_) {
    MRD_TRY(progressRecv(s, moved));
    MRD_TRY(progressSend(s, moved));
  }
  return Status::ok();
}

}  // namespace mrd::transport::tcp
