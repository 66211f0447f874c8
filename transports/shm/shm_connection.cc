#include "shm_connection.h"

#include <linux/futex.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace mrd::transport::shm {
namespace {

constexpr uint32_t kData = 0, kPing = 1, kPong = 2, kByAddress = 3, kRewind = 4;
// A sender that finds the ring empty this far into it starts the next
// message at its beginning again (kRewind): back-to-back messages then
// reuse the ring's first pages, warm in the cache and already mapped,
// instead of touching a new page per few messages until the whole ring
// has been faulted in (which made the first ~1000 calls of an 8 KiB
// alltoall on 4 ranks 2-3x slower than the rest).
constexpr size_t kRewindBytes = 64 << 10;
// Only for messages up to this size: a large one written over lines the
// peer has just read pulls them back from its cache (sendrecv of 64 KiB,
// 2 ranks: 10.5-14.5 us rewinding, 6.7-9.5 not); it touches many pages
// anyway.
constexpr size_t kRewindMaxBytes = 16 << 10;
// From this size on a message crosses by address, in one copy.
constexpr size_t kCmaMinBytes = 32 << 10;
// Bytes read per progress call, so one large message does not hold up the
// other connections.
constexpr size_t kCmaStepBytes = 1 << 20;

uint64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// Copies up to len bytes into the ring; returns how many fit.
size_t ringWrite(const RingView& r, const char* src, size_t len) {
  uint64_t head = r.hdr->head.load(std::memory_order_relaxed);
  uint64_t tail = r.hdr->tail.load(std::memory_order_acquire);
  size_t n = std::min(len, static_cast<size_t>(r.cap - (head - tail)));
  if (n == 0) return 0;
  size_t at = static_cast<size_t>(head % r.cap);
  size_t first = std::min(n, r.cap - at);
  std::memcpy(r.data + at, src, first);
  if (n > first) std::memcpy(r.data, src + first, n - first);
  r.hdr->head.store(head + n, std::memory_order_release);
  return n;
}

size_t ringRead(const RingView& r, char* dst, size_t len) {
  uint64_t tail = r.hdr->tail.load(std::memory_order_relaxed);
  uint64_t head = r.hdr->head.load(std::memory_order_acquire);
  size_t n = std::min(len, static_cast<size_t>(head - tail));
  if (n == 0) return 0;
  size_t at = static_cast<size_t>(tail % r.cap);
  size_t first = std::min(n, r.cap - at);
  std::memcpy(dst, r.data + at, first);
  if (n > first) std::memcpy(dst + first, r.data, n - first);
  r.hdr->tail.store(tail + n, std::memory_order_release);
  return n;
}

}  // namespace

namespace {

// One unbound datagram socket per process rings every owner's wake socket.
int wakeSender() {
  static const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd;
}

}  // namespace

void wakeOwner(SegmentHeader* seg) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const uint32_t how = seg->sleeping.load(std::memory_order_relaxed);
  if (how == 0) return;
  seg->doorbell.fetch_add(1, std::memory_order_seq_cst);
  if (how == kSleepPoll && seg->wakeNameLen > 0 && seg->wakeNameLen <= sizeof seg->wakeName &&
      wakeSender() >= 0) {
    // A full socket queue already holds a wake-up: EAGAIN is fine.
    sockaddr_un to{};
    to.sun_family = AF_UNIX;
    std::memcpy(to.sun_path + 1, seg->wakeName, seg->wakeNameLen);
    const char one = 1;
    sendto(wakeSender(), &one, 1, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to),
           static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + seg->wakeNameLen));
    return;
  }
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&seg->doorbell), FUTEX_WAKE, INT32_MAX, nullptr,
          nullptr, 0);
}

ShmConnection::ShmConnection(int peer, int self, RingView out, RingView in,
                             SegmentHeader* peerSeg, SegmentHeader* ownSeg, PeerProcess* peerProc, bool cma)
    : peer_(peer), self_(self), out_(out), in_(in), peerSeg_(peerSeg), ownSeg_(ownSeg), peerProc_(peerProc),
      cma_(cma) {}

Status ShmConnection::peerError(const std::string& what) const {
  return remoteError("rank " + std::to_string(self_) + " <-> peer " + std::to_string(peer_) +
                     " (shm): " + what);
}

Status ShmConnection::postSend(Request* r) {
  r->progressed = 0;
  r->done = false;
  if (cma_ && r->bytes >= kCmaMinBytes) {
    sends_.push(OutMsg{r, ShmWireHeader{r->tag, r->bytes, kByAddress, 0,
                                        reinterpret_cast<uint64_t>(r->buf)}});
  } else {
    sends_.push(OutMsg{r, ShmWireHeader{r->tag, r->bytes, kData, 0, 0}});
  }
  return Status::ok();
}

Status ShmConnection::postRecv(Request* r) {
  r->progressed = 0;
  r->done = false;
  recvs_.push(r);
  return Status::ok();
}

Status ShmConnection::probe() {
  uint64_t t = nowNs();
  probe_ = ProbeSample{t, 0};
  sends_.push(OutMsg{nullptr, ShmWireHeader{0, 0, kPing, 0, t}});
  return Status::ok();
}

bool ShmConnection::rewindIfEmpty(size_t need) {
  constexpr size_t kHdr = sizeof(ShmWireHeader);
  const uint64_t head = out_.hdr->head.load(std::memory_order_relaxed);
  const size_t at = static_cast<size_t>(head % out_.cap);
  // Far enough in, the marker fits before the end, the next message fits
  // before `at` (until the peer reads the marker that is all the room there
  // is: a larger one would wait for it), and the peer has read everything
  // (nothing it still needs lies where the next one goes).
  if (need > kRewindMaxBytes || at < std::min(kRewindBytes, out_.cap / 2) || out_.cap - at < kHdr ||
      need > at) {
    return false;
  }
  if (out_.hdr->tail.load(std::memory_order_acquire) != head) return false;
  const ShmWireHeader mark{0, 0, kRewind, 0, 0};
  std::memcpy(out_.data + at, &mark, kHdr);
  out_.hdr->head.store(head + (out_.cap - at), std::memory_order_release);
  ++rewinds_;
  return true;
}

std::string ShmConnection::describeState() const {
  const uint64_t outHead = out_.hdr->head.load(std::memory_order_relaxed);
  const uint64_t outTail = out_.hdr->tail.load(std::memory_order_relaxed);
  const uint64_t inHead = in_.hdr->head.load(std::memory_order_relaxed);
  const uint64_t inTail = in_.hdr->tail.load(std::memory_order_relaxed);
  return "shm ring to the peer: " + std::to_string(outHead - outTail) + " of " + std::to_string(out_.cap) +
         " bytes unread, next at offset " + std::to_string(outHead % out_.cap) + ", rewound " +
         std::to_string(rewinds_) + " times; from the peer: " + std::to_string(inHead - inTail) +
         " bytes unread; " + std::to_string(sends_.size()) + " sends and " + std::to_string(recvs_.size()) +
         " receives queued";
}

Status ShmConnection::progressSend(bool* moved) {
  bool wrote = false;
  while (!sends_.empty()) {
    OutMsg& m = sends_.front();
    constexpr size_t kHdr = sizeof(ShmWireHeader);
    if (sendDone_ == 0 && rewindIfEmpty(kHdr + (m.hdr.kind == kData && m.req != nullptr ? m.req->bytes : 0))) {
      wrote = true;
    }
    if (sendDone_ < kHdr) {
      size_t n = ringWrite(out_, reinterpret_cast<const char*>(&m.hdr) + sendDone_, kHdr - sendDone_);
      sendDone_ += n;
      wrote = wrote || n > 0;
      if (sendDone_ < kHdr) break;
    }
    if (m.hdr.kind == kByAddress) {
      awaitingAck_.push({m.req, ++cmaPosted_});
      sendDone_ = 0;
      sends_.pop();
      continue;
    }
    size_t len = m.req != nullptr ? m.req->bytes : 0;
    size_t done = sendDone_ - kHdr;
    if (done < len) {
      size_t n = ringWrite(out_, static_cast<const char*>(m.req->buf) + done, len - done);
      sendDone_ += n;
      m.req->progressed += n;
      wrote = wrote || n > 0;
      if (sendDone_ - kHdr < len) break;
    }
    if (m.req != nullptr) m.req->done = true;
    sendDone_ = 0;
    sends_.pop();
  }
  if (wrote) {
    *moved = true;
    wakeOwner(peerSeg_);
  }
  return Status::ok();
}

Status ShmConnection::progressRecv(bool* moved) {
  bool read = false;
  Status st = Status::ok();
  while (true) {
    constexpr size_t kHdr = sizeof(ShmWireHeader);
    if (inHdrGot_ < kHdr) {
      size_t n = ringRead(in_, reinterpret_cast<char*>(&inHdr_) + inHdrGot_, kHdr - inHdrGot_);
      inHdrGot_ += n;
      read = read || n > 0;
      if (inHdrGot_ < kHdr) break;
      if (inHdr_.kind == kPing) {
        sends_.push(OutMsg{nullptr, ShmWireHeader{0, 0, kPong, 0, inHdr_.stampNs}});
        inHdrGot_ = 0;
        continue;
      }
      if (inHdr_.kind == kRewind) {
        // The sender went back to the ring's start: skip to it.
        const uint64_t tail = in_.hdr->tail.load(std::memory_order_relaxed);
        in_.hdr->tail.store(tail + (in_.cap - tail % in_.cap) % in_.cap, std::memory_order_release);
        inHdrGot_ = 0;
        continue;
      }
      if (inHdr_.kind == kPong) {
        if (inHdr_.stampNs == probe_.sentNs) probe_.rttNs = nowNs() - probe_.sentNs;
        inHdrGot_ = 0;
        continue;
      }
      if (inHdr_.kind != kData && inHdr_.kind != kByAddress) {
        st = peerError("corrupt message header (kind " + std::to_string(inHdr_.kind) + ")");
        break;
      }
    }
    if (recvs_.empty()) break;
    Request* r = recvs_.front();
    if (recvDone_ == 0 && (inHdr_.tag != r->tag || inHdr_.bytes != r->bytes)) {
      st = peerError("message mismatch: expected tag " + std::to_string(r->tag) + " of " +
                     std::to_string(r->bytes) + " bytes, got tag " + std::to_string(inHdr_.tag) +
                     " of " + std::to_string(inHdr_.bytes) +
                     " bytes (operations issued in a different order on the two ranks?)");
      break;
    }
    if (inHdr_.kind == kByAddress) {
      st = readByAddress(r, &read);
      if (!st.isOk() || !r->done) break;
      recvs_.pop();
      recvDone_ = 0;
      inHdrGot_ = 0;
      continue;
    }
    if (recvDone_ < r->bytes) {
      size_t n = ringRead(in_, static_cast<char*>(r->buf) + recvDone_, r->bytes - recvDone_);
      recvDone_ += n;
      r->progressed = recvDone_;
      read = read || n > 0;
      if (recvDone_ < r->bytes) break;
    }
    r->done = true;
    recvs_.pop();
    recvDone_ = 0;
    inHdrGot_ = 0;
  }
  if (read) {
    *moved = true;
    wakeOwner(peerSeg_);  // the peer may be waiting for ring space
  }
  return st;
}

Status ShmConnection::readByAddress(Request* r, bool* moved) {
  size_t n = std::min(kCmaStepBytes, r->bytes - recvDone_);
  iovec local{static_cast<char*>(r->buf) + recvDone_, n};
  iovec remote{reinterpret_cast<char*>(inHdr_.stampNs) + recvDone_, n};
  ssize_t got = process_vm_readv(peerSeg_->pid, &local, 1, &remote, 1, 0);
  if (got < 0) return peerError(errnoText("process_vm_readv", errno));
  recvDone_ += static_cast<size_t>(got);
  r->progressed = recvDone_;
  *moved = true;
  if (recvDone_ < r->bytes) return Status::ok();
  r->done = true;
  in_.hdr->cmaAcked.fetch_add(1, std::memory_order_release);
  return Status::ok();
}

void ShmConnection::completeAcked() {
  if (awaitingAck_.empty()) return;
  uint64_t acked = out_.hdr->cmaAcked.load(std::memory_order_acquire);
  while (!awaitingAck_.empty() && awaitingAck_.front().second <= acked) {
    awaitingAck_.front().first->progressed = awaitingAck_.front().first->bytes;
    awaitingAck_.front().first->done = true;
    awaitingAck_.pop();
  }
}

Status ShmConnection::checkPeer() {
  // The flag first: what the peer wrote before raising it is then visible.
  bool aborted = peerSeg_->aborted.load(std::memory_order_acquire) != 0;
  bool gone = !aborted && peerProc_ != nullptr && peerProc_->gone();
  // A peer that failed says why before it exits: once it is gone, its
  // flag is set if it ever will be.
  if (gone) aborted = peerSeg_->aborted.load(std::memory_order_acquire) != 0;
  if (!aborted && !gone) return Status::ok();
  // A peer that finished and destroyed its communicator may have left its
  // last messages in our ring (they live in our segment): only fail once we
  // need something the peer can no longer give.
  bool ringEmpty = in_.hdr->head.load(std::memory_order_acquire) ==
                   in_.hdr->tail.load(std::memory_order_relaxed);
  bool waitingForData = !recvs_.empty() && ringEmpty;
  bool peerMustAct = !sends_.empty() || !awaitingAck_.empty();
  if (!waitingForData && !peerMustAct) return Status::ok();
  if (!aborted) {
    return peerError("the process of peer " + std::to_string(peer_) + " (pid " + std::to_string(peerSeg_->pid) + ") is gone");
  }
  const std::string why = abortReason(peerSeg_);
  return peerError(why.empty() ? "the peer aborted or destroyed its communicator" : kPeerFailed + why);
}

Status ShmConnection::progress(bool* moved) {
  bool local = false;
  MRD_TRY(progressRecv(&local));
  MRD_TRY(progressSend(&local));
  size_t waitingBefore = awaitingAck_.size();
  completeAcked();
  if (awaitingAck_.size() != waitingBefore) local = true;
  if (local) {
    *moved = true;
  } else if (!sends_.empty() || !recvs_.empty() || !awaitingAck_.empty()) {
    // The abort flag is one load; whether the process still lives is a
    // system call, asked every 10 ms at most.
    if (peerSeg_->aborted.load(std::memory_order_relaxed) != 0 ||
        (peerProc_ != nullptr && peerProc_->goneRateLimited())) {
      MRD_TRY(checkPeer());
    }
  }
  return Status::ok();
}

}  // namespace mrd::transport::shm
