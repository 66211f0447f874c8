#include "shm_transport.h"

#include <linux/futex.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <mutex>

#include "bootstrap/bootstrap.h"
#include "config/params.h"
#include "log/log.h"
#include "shm_connection.h"
#include "shm_segment.h"
#include "peer_process.h"

namespace mrd::transport::shm {
namespace {

class ShmTransport : public Transport {
 public:
  explicit ShmTransport(bool disabled) : disabled_(disabled) {}
  const char* name() const override { return "shm"; }
  bool viable() const override { return !disabled_; }
  bool canReach(const bootstrap::Bootstrap& b, int peer) const override {
    return b.sameHost(b.rank(), peer);
  }
  Status connect(const SetupContext& ctx, ConnectionTable* conns) override;

  bool hasDoorbell() const override { return own_ != nullptr; }
  void prepareSleep() override {
    SegmentHeader* h = own_->header();
    h->sleeping.store(kSleepFutex, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with wakeOwner's fence
    bell_ = h->doorbell.load(std::memory_order_seq_cst);
  }
  void sleep(int timeoutUs) override {
    timespec ts{timeoutUs / 1000000, static_cast<long>(timeoutUs % 1000000) * 1000};
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&own_->header()->doorbell), FUTEX_WAIT, bell_,
            &ts, nullptr, 0);
  }
  void endSleep() override {
    own_->header()->sleeping.store(0, std::memory_order_relaxed);
    if (wakeFd_ >= 0) {
      char buf[64];
      while (recv(wakeFd_, buf, sizeof buf, MSG_DONTWAIT) > 0) {
      }
    }
  }
  int wakeFd() const override { return wakeFd_; }
  void prepareSleepOnFd() override {
    SegmentHeader* h = own_->header();
    h->sleeping.store(kSleepPoll, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with wakeOwner's fence
  }
  ~ShmTransport() override {
    if (wakeFd_ >= 0) close(wakeFd_);
  }

  bool boardView(BoardView* out) override {
    if (boardAreas_.empty()) return false;
    out->areas = boardAreas_;
    out->sleeping.clear();
    for (size_t q = 0; q < boardAreas_.size(); ++q) {
      const Segment& seg = static_cast<int>(q) == self_ ? *own_ : *peers_[q];
      out->sleeping.push_back(&seg.header()->sleeping);
    }
    out->wake = [this](int rank) {
      if (rank != self_ && peers_[static_cast<size_t>(rank)]) wakeOwner(peers_[static_cast<size_t>(rank)]->header());
    };
    out->gone = [this](int rank) -> std::string {
      if (rank == self_ || !peers_[static_cast<size_t>(rank)]) return "";
      const SegmentHeader* h = peers_[static_cast<size_t>(rank)]->header();
      const auto aborted = [&]() -> std::string {
        if (h->aborted.load(std::memory_order_acquire) == 0) return "";
        const std::string why = abortReason(h);
        return why.empty() ? "rank " + std::to_string(rank) + " aborted or destroyed its communicator"
                           : "rank " + std::to_string(rank) + ": " + kPeerFailed + why;
      };
      std::string said = aborted();
      if (!said.empty()) return said;
      PeerProcess* proc = procs_[static_cast<size_t>(rank)].get();
      if (proc != nullptr && proc->goneRateLimited()) {
        // (One that failed said why before it exited: read again.)
        said = aborted();
        return !said.empty() ? said
                             : "the process of rank " + std::to_string(rank) + " (pid " + std::to_string(proc->pid()) +
                                   ") is gone";
      }
      return "";
    };
    return true;
  }

  void fail(const std::string& why) override {
    if (own_ == nullptr) return;
    SegmentHeader* h = own_->header();
    // The first reason stays: peers may be reading it.
    if (h->aborted.load() == 0) {
      const size_t len = std::min(why.size(), sizeof h->abortWhy);
      std::memcpy(h->abortWhy, why.data(), len);
      h->abortWhyLen = static_cast<uint32_t>(len);
    }
    abort();
  }

  void abort() override {
    if (own_ == nullptr) return;
    own_->header()->aborted.store(1);
    wakeOwner(own_->header());
    for (auto& p : peers_) {
      if (p) wakeOwner(p->header());
    }
  }

 private:
  bool disabled_;
  std::unique_ptr<Segment> own_;
  std::vector<std::unique_ptr<Segment>> peers_;
  std::vector<std::unique_ptr<PeerProcess>> procs_;  // [rank], for the peers mapped
  uint32_t bell_ = 0;
  int wakeFd_ = -1;
  int self_ = -1;
  std::vector<char*> boardAreas_;  // [rank], when every other rank is reached here
};

// The owner's wake socket: an abstract-namespace datagram socket named
// after its segment (nothing in the file system to clean up). Without it
// the owner only sleeps on the futex.
int openWakeSocket(const std::string& segName, SegmentHeader* h) {
  h->wakeNameLen = 0;
  std::string name = "mrd-wake" + segName;  // segName starts with '/'
  if (name.size() > sizeof h->wakeName) return -1;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path + 1, name.data(), name.size());
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a),
           static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())) != 0) {
    MRD_LOG_INFO(kShm, "no wake socket ({}): sleeping on the futex only", std::strerror(errno));
    close(fd);
    return -1;
  }
  std::memcpy(h->wakeName, name.data(), name.size());
  h->wakeNameLen = static_cast<uint32_t>(name.size());
  return fd;
}

Status ShmTransport::connect(const SetupContext& ctx, ConnectionTable* conns) {
  bootstrap::Bootstrap& b = *ctx.bootstrap;
  const int me = b.rank(), n = b.nranks();
  bool needed = false;
  for (bool u : ctx.useFor) needed = needed || u;

  SegmentLayout layout;
  layout.nranks = n;
  layout.nchannels = ctx.nchannels;
  layout.ringBytes = static_cast<size_t>(ctx.params->shmRingBytes);
  // A board needs every other rank on this transport (then every rank
  // decides alike: the choice of transport is the same at both ends).
  bool everyone = n > 1;
  for (int p = 0; p < n; ++p) everyone = everyone && (p == me || ctx.useFor[static_cast<size_t>(p)]);
  layout.boardBytes = everyone ? ctx.boardAreaBytes : 0;
  self_ = me;
  if (needed) {
    removeStaleSegments();
    // Kept only once it exists: abort() (after a failed init too) writes to it.
    auto own = std::make_unique<Segment>();
    MRD_TRY(own->create(segmentName(getpid(), ctx.commTag, me), layout.totalBytes())
                .withContext("rank " + std::to_string(me)));
    own_ = std::move(own);
    SegmentHeader* h = own_->header();
    h->magic = kSegmentMagic;
    h->pid = getpid();
    h->doorbell.store(0);
    h->sleeping.store(0);
    h->aborted.store(0);
    h->abortWhyLen = 0;
    h->probeAddr = reinterpret_cast<uint64_t>(&h->magic);
    wakeFd_ = openWakeSocket(segmentName(getpid(), ctx.commTag, me), h);
  }
  // Everyone learns everyone's pid (segment names), maps its peers', and
  // only then are the names removed.
  std::vector<int32_t> pids(static_cast<size_t>(n), 0);
  pids[static_cast<size_t>(me)] = getpid();
  MRD_TRY(b.allgather(pids.data(), sizeof(int32_t)));
  peers_.resize(static_cast<size_t>(n));
  Status st = Status::ok();
  for (int p = 0; p < n && st.isOk(); ++p) {
    if (!ctx.useFor[static_cast<size_t>(p)]) continue;
    peers_[static_cast<size_t>(p)] = std::make_unique<Segment>();
    st = peers_[static_cast<size_t>(p)]->open(
        segmentName(pids[static_cast<size_t>(p)], ctx.commTag, p), layout.totalBytes());
    if (st.isOk() && peers_[static_cast<size_t>(p)]->header()->magic != kSegmentMagic) {
      st = internalError("segment of peer " + std::to_string(p) + " has a bad magic");
    }
    if (!st.isOk()) {
      st = st.withContext("rank " + std::to_string(me) + " mapping peer " + std::to_string(p));
      peers_[static_cast<size_t>(p)].reset();  // abort() must not wake through it
    }
  }
  // Single copy needs process_vm_readv into each peer (ptrace rules,
  // seccomp in containers): try it once per peer, and share the answers,
  // since the sender decides and the receiver reads.
  std::vector<uint8_t> canRead(static_cast<size_t>(n) * n, 0);
  for (int p = 0; p < n && st.isOk(); ++p) {
    if (!ctx.useFor[static_cast<size_t>(p)] || !ctx.params->shmCma) continue;
    SegmentHeader* ph = peers_[static_cast<size_t>(p)]->header();
    uint32_t seen = 0;
    iovec local{&seen, sizeof seen};
    iovec remote{reinterpret_cast<void*>(ph->probeAddr), sizeof seen};
    bool ok = process_vm_readv(ph->pid, &local, 1, &remote, 1, 0) == sizeof seen &&
              seen == kSegmentMagic;
    canRead[static_cast<size_t>(me) * n + p] = ok ? 1 : 0;
    if (!ok) {
      MRD_LOG_INFO(kShm, "rank {}: no single-copy reads from peer {} ({}); using the ring", me, p,
                   std::strerror(errno));
    }
  }
  Status bs = st.isOk() ? b.allgather(canRead.data(), static_cast<size_t>(n)) : st;
  if (own_) own_->unlink();
  MRD_TRY(st);
  MRD_TRY(bs);
  procs_.resize(static_cast<size_t>(n));
  for (int p = 0; p < n; ++p) {
    if (peers_[static_cast<size_t>(p)]) {
      procs_[static_cast<size_t>(p)] = std::make_unique<PeerProcess>(pids[static_cast<size_t>(p)]);
    }
  }
  if (layout.boardBytes > 0) {
    boardAreas_.assign(static_cast<size_t>(n), nullptr);
    for (int p = 0; p < n; ++p) {
      Segment& seg = p == me ? *own_ : *peers_[static_cast<size_t>(p)];
      boardAreas_[static_cast<size_t>(p)] = seg.base() + layout.boardOffset();
    }
  }
  for (int p = 0; p < n; ++p) {
    if (!ctx.useFor[static_cast<size_t>(p)]) continue;
    Segment& peerSeg = *peers_[static_cast<size_t>(p)];
    for (int c = 0; c < ctx.nchannels; ++c) {
      RingView out{reinterpret_cast<RingHeader*>(peerSeg.base() + layout.ringOffset(me, c)),
                   peerSeg.base() + layout.ringOffset(me, c) + sizeof(RingHeader),
                   layout.ringBytes};
      RingView in{reinterpret_cast<RingHeader*>(own_->base() + layout.ringOffset(p, c)),
                  own_->base() + layout.ringOffset(p, c) + sizeof(RingHeader), layout.ringBytes};
      bool cma = canRead[static_cast<size_t>(p) * n + me] != 0;  // p reads from us
      (*conns)[static_cast<size_t>(p)][static_cast<size_t>(c)] = std::make_unique<ShmConnection>(
          p, me, out, in, peerSeg.header(), own_->header(), procs_[static_cast<size_t>(p)].get(), cma);
    }
  }
  return Status::ok();
}

}  // namespace

std::unique_ptr<Transport> makeShmTransport(bool disabled) {
  return std::make_unique<ShmTransport>(disabled);
}

}  // namespace mrd::transport::shm
