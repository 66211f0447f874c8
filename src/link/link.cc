// A link over several paths; see link.h.
#include "link/link.h"

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "core/mono_clock.h"
#include "link/nic_watch.h"
#include "log/log.h"
#include "probe/probe_log.h"
#include "probe/tcp_info.h"

namespace mrd::link {
namespace {

bool wouldBlock(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

bool isControl(uint32_t kind) {
  return kind == kFrameAck || kind == kFramePing || kind == kFramePong || kind == kFrameRelayAck ||
         kind == kFrameNicDown;
}

}  // namespace

Link::Link(int peer, int self, int channel, std::vector<PathDesc> paths, const LinkOptions& opt)
    : peer_(peer), self_(self), channel_(channel), opt_(opt), sink_(kChunkBytes) {
  paths_.resize(paths.size());
  est_.resize(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    Path& p = paths_[i];
    p.desc = std::move(paths[i]);
    p.health = probe::PathHealth(opt_.probe);
    p.health.setTransitionCallback([this, i](const probe::Transition& t) { onTransition(i, t); });
    if (opt_.nics != nullptr && !p.desc.ifname.empty()) opt_.nics->usable(p.desc.ifname);  // watched from now on
  }
  if (opt_.nics != nullptr) nicGeneration_ = opt_.nics->generation() - 1;  // the first round looks
}

Link::~Link() {
  // What we sent must reach the peer before the sockets close: a socket
  // closed with unread bytes in it (the peer's acks, pongs) resets the
  // connection, and the kernel drops what it had not delivered yet (an
  // eager send that completed once written, lost packets being re-sent).
  // So: until every frame is acknowledged and every ack we owe is written
  // (at most kCloseDrainNs), keep the link moving; then stop sending, and
  // on a path still carrying data read until the kernel has our last bytes
  // acknowledged or the peer stops sending too (at most kCloseLingerNs):
  // bytes that come after close() would reset the connection under what
  // the kernel has not delivered yet (TCP backing off on a lossy path can
  // take seconds).
  const uint64_t start = monotonicNs();
  const uint64_t deadline = closeByNs_ != 0 ? std::min(start + kCloseDrainNs, closeByNs_) : start + kCloseDrainNs;
  auto owed = [this] {
    for (const Path& p : paths_) {
      if (!p.dead && (p.unackedBytes > 0 || p.curActive || p.ctrlPending() || p.rxFrames != p.ackQueued)) {
        return true;
      }
    }
    return !relayOut_.empty();  // other ranks' frames (or ours) to pass on
  };
  while (owed() && monotonicNs() < deadline) {
    bool moved = false;
    if (!progress(&moved).isOk()) break;
    if (!moved) {
      std::vector<pollfd> fds;
      addPollFds(&fds);
      if (fds.empty()) break;
      poll(fds.data(), fds.size(), 1);
    }
  }
  std::vector<pollfd> open;
  for (Path& p : paths_) {
    if (p.desc.fd < 0) continue;
    shutdown(p.desc.fd, SHUT_WR);
    // (A down path's chunks went elsewhere, unless striping is static.)
    if (!p.dead && !p.eof && (!opt_.reroute || p.health.state() != probe::PathState::kDown)) {
      open.push_back(pollfd{p.desc.fd, POLLIN, 0});
    }
  }
  const uint64_t lingerEnd = closeByNs_ != 0 ? std::min(monotonicNs() + kCloseLingerNs, closeByNs_) : monotonicNs() + kCloseLingerNs;
  while (!open.empty() && monotonicNs() < lingerEnd) {
    poll(open.data(), open.size(), 1);
    for (size_t i = 0; i < open.size();) {
      char sink[4096];
      ssize_t r = 0;
      while ((r = recv(open[i].fd, sink, sizeof sink, MSG_DONTWAIT)) > 0) {
      }
      const bool failed = r < 0 && !wouldBlock(errno);
      int queued = 0;
      const bool delivered = ioctl(open[i].fd, SIOCOUTQ, &queued) == 0 && queued == 0;
      if (r == 0 || failed || delivered) {  // the peer's end closed too, or has it all
        open[i] = open.back();
        open.pop_back();
      } else {
        ++i;
      }
    }
  }
  // Whatever came meanwhile on any path (the others too: a path judged
  // down still carries the peer's acks), so close() sends no reset.
  for (Path& p : paths_) {
    if (p.desc.fd < 0) continue;
    char sink[4096];
    while (recv(p.desc.fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
    close(p.desc.fd);
  }
}

void Link::sendFailure(const std::string& why) {
  constexpr size_t kHdr = sizeof(Frame);
  const uint32_t len = static_cast<uint32_t>(std::min<size_t>(why.size(), kGoodbyeMaxBytes));
  Frame g{kFrameGoodbye, len, 0, 0, 0, 0};
  for (Path& path : paths_) {
    if (path.dead || path.desc.fd < 0) continue;
    // Whatever is left of frames begun comes first, or the peer would read
    // ours as their bytes. (A frame's payload lives as long as the failed
    // operation's buffers, which its caller still holds.)
    iovec iov[5];
    int n = 0;
    if (path.ctrlOutDone < path.ctrlOut.size()) {
      iov[n++] = {path.ctrlOut.data() + path.ctrlOutDone, path.ctrlOut.size() - path.ctrlOutDone};
    }
    if (path.curActive && path.curDone > 0) {
      if (path.curDone < kHdr) iov[n++] = {reinterpret_cast<char*>(&path.cur) + path.curDone, kHdr - path.curDone};
      const size_t payloadDone = path.curDone > kHdr ? path.curDone - kHdr : 0;
      if (path.cur.len > payloadDone) {
        iov[n++] = {const_cast<char*>(path.curPayload) + payloadDone, path.cur.len - payloadDone};
      }
    }
    iov[n++] = {&g, kHdr};
    if (len > 0) iov[n++] = {const_cast<char*>(why.data()), len};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    // A full socket takes part or none: the peer then sees the stream end
    // (or the reset) without the reason, as it would without this.
    (void)sendmsg(path.desc.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    path.dead = true;  // nothing more on it, not even the close's drain
  }
}

void Link::shutdownAll() {
  for (Path& p : paths_) {
    if (p.desc.fd >= 0) shutdown(p.desc.fd, SHUT_RDWR);
  }
}

Status Link::pathError(size_t p, const std::string& what) {
  return remoteError("rank " + std::to_string(self_) + " <-> peer " + std::to_string(peer_) +
                     " (tcp, channel " + std::to_string(channel_) + ", path " + std::to_string(p) +
                     " " + paths_[p].desc.localNic + " -> " + paths_[p].desc.remoteNic + "): " + what);
}

void Link::onTransition(size_t p, const probe::Transition& t) {
  MRD_LOG_INFO(kNet, "rank {} peer {} channel {} path {} ({} -> {}): {} -> {} ({})", self_, peer_,
               channel_, p, paths_[p].desc.localNic, paths_[p].desc.remoteNic,
               probe::pathStateName(t.from), probe::pathStateName(t.to), t.reason);
  if (opt_.log != nullptr) opt_.log->transition(t.atNs, self_, peer_, static_cast<int>(p), t);
  if (t.to == probe::PathState::kDown && opt_.reroute) requeueInflight(paths_[p]);
}

void Link::checkNics(uint64_t now) {
  nicGeneration_ = opt_.nics->generation();
  std::vector<size_t> wentDown;
  for (size_t p = 0; p < paths_.size(); ++p) {
    Path& path = paths_[p];
    if (path.desc.ifname.empty()) continue;
    const bool down = !opt_.nics->usable(path.desc.ifname);
    if (down == path.nicDown) continue;
    path.nicDown = down;
    // Static striping is the baseline that knows nothing of path health.
    if (!down || path.dead || !opt_.reroute) continue;
    path.health.onError(now, "NIC " + path.desc.ifname + " is down (kernel link event)");
    wentDown.push_back(p);
  }
  // The peer's NIC may be fine: without a word it would wait for its own
  // stall rule to see that nothing comes back. (Told once every path over
  // a dead NIC is down, on one that is not.)
  for (size_t p : wentDown) {
    size_t q = quickestPath();
    if (q != SIZE_MAX && paths_[q].nicDown) q = SIZE_MAX;
    if (q != SIZE_MAX && q != p) paths_[q].ctrl.push(Frame{kFrameNicDown, 0, 0, 0, 0, p});
  }
}

void Link::requeueInflight(Path& path) {
  // Every chunk the path holds unacknowledged goes to the others; if the
  // path delivers it after all, the receiver drops the second copy. The
  // entries stay: their acknowledgement, if it comes, still counts.
  // (Even those the peer's kernel has: their acks come back on this path.)
  for (Inflight& f : path.inflight) {
    if (f.requeued) continue;
    f.requeued = true;
    path.inflightBytes -= f.len;
    --path.waiting;
    OutMsg* m = outMsg(f.seq);
    if (m == nullptr || m->chunk[f.chunk] == kAcked) continue;
    resend_.push_back(Resend{f.seq, f.chunk});
    ++path.resends;
  }
  std::sort(resend_.begin(), resend_.end(), [](const Resend& a, const Resend& b) {
    return a.seq != b.seq ? a.seq < b.seq : a.chunk < b.chunk;
  });
  // A frame half written must no longer read the user's buffer.
  detachCur(path);
}

uint64_t Link::deliveredBytes(const Path& path) const {
  // Written minus what the socket still holds (unsent or unacknowledged).
  int queued = 0;
  if (ioctl(path.desc.fd, SIOCOUTQ, &queued) != 0 || queued < 0) return 0;
  const auto q = static_cast<uint64_t>(queued);
  return path.wireBytes > q ? path.wireBytes - q : 0;
}

uint64_t Link::ackGapNs(const Path& path) const {
  uint64_t rto = 0;
  for (const Path& o : paths_) {
    if (&o == &path || o.dead || o.health.state() == probe::PathState::kDown || o.rtoNs == 0) continue;
    rto = rto == 0 ? o.rtoNs : std::min(rto, o.rtoNs);
  }
  if (rto == 0) rto = path.rtoNs;  // no other path to go by
  // Bounded: a stale or bloated bound (a slowed rail's) must not keep a
  // dead path looking alive for long.
  const uint64_t downNs = opt_.probe.downUs * 1000;
  return std::clamp<uint64_t>(rto, downNs / 2, 4 * downNs);
}

uint64_t Link::bestLiveNs(double (probe::PathHealth::*metricUs)() const, size_t except) const {
  double best = 0;
  for (size_t q = 0; q < paths_.size(); ++q) {
    const Path& o = paths_[q];
    if (q == except || o.dead || o.health.state() == probe::PathState::kDown) continue;
    const double us = (o.health.*metricUs)();
    if (us > 0 && (best == 0 || us < best)) best = us;
  }
  return static_cast<uint64_t>(best * 1e3);
}

bool Link::hedgeFrom(size_t q, uint64_t now) {
  // Path q is idle (nothing fresh or to re-send). If another path has been
  // silent far longer than q would take to deliver a chunk, the oldest
  // chunk that path still owes is handed to q as well: the message ends
  // when its last chunk lands, and a path that slowed down (rate cut, loss
  // recovery) would hold it. Whichever copy lands first counts.
  const Path& idle = paths_[q];
  if (idle.dead) return false;
  if (idle.unackedBytes + kChunkBytes > opt_.pathCapBytes && idle.unackedBytes > 0) return false;
  fillEstimates(now);
  if (!est_[q].usable) return false;  // down (unless every path is: then the liveliest)
  const double qRate = std::max(creditedRate(est_, q, opt_.fallbackBytesPerUs), 1e-6);
  const double qUs = static_cast<double>(idle.unackedBytes + kChunkBytes) / qRate + est_[q].rttUs;
  const uint64_t barNs = std::max<uint64_t>(kHedgeFloorNs, static_cast<uint64_t>(kHedgeFactor * qUs * 1e3));
  for (size_t p = 0; p < paths_.size(); ++p) {
    Path& slow = paths_[p];
    if (p == q || slow.waiting == 0) continue;
    // Silence is judged against the link's best round trips too: under
    // load acks come a queue's drain apart on every path, and taking
    // chunks over then only sends them twice.
    const auto loadNs = static_cast<uint64_t>(kHedgeRttFactor * static_cast<double>(bestLiveNs(&probe::PathHealth::loadedRttEwmaUs)));
    if (now - slow.lastAckNs < std::max(barNs, loadNs)) continue;
    // The chunk the receiver needs first: lowest message, then offset (the
    // hand-out order may differ after re-sends).
    while (true) {
      Inflight* first = nullptr;
      for (Inflight& f : slow.inflight) {
        if (f.requeued) continue;
        if (first == nullptr || f.seq < first->seq || (f.seq == first->seq && f.chunk < first->chunk)) first = &f;
      }
      if (first == nullptr) break;
      // Already in the peer's kernel while the path still moves either
      // way: the peer has not read it yet, or its ack is on the way (on
      // whichever path the peer finds quickest); another copy would
      // arrive no sooner. (A path that died after delivering it moves
      // neither way: then its ack may never come.)
      const uint64_t gapNs = ackGapNs(slow);
      const bool moving = now - slow.lastRxNs < gapNs || now - slow.tcpAckedChangeNs < gapNs;
      const bool patient = now - slow.lastAckNs < kDeliveredPatienceNs;
      if (moving && patient && first->wireEnd <= deliveredBytes(slow)) break;
      first->requeued = true;
      slow.inflightBytes -= first->len;
      --slow.waiting;
      OutMsg* m = outMsg(first->seq);
      if (m == nullptr || m->chunk[first->chunk] == kAcked) continue;
      resend_.push_front(Resend{first->seq, first->chunk});
      ++slow.resends;
      return true;
    }
  }
  return false;
}

Status Link::failPath(size_t p, const std::string& why, uint64_t now) {
  Path& path = paths_[p];
  if (path.dest == Dest::kStage && path.destPtr != nullptr) {
    // A chunk it was reading aside will not finish: its budget comes back.
    stagedBytes_ -= path.in.len;
    giveBack(&copyPool_, &path.stageBuf);
    path.dest = Dest::kSink;
    path.destPtr = nullptr;
  }
  if (path.dest == Dest::kRelay) {  // a relayed frame half read: its sender sends it again
    giveBack(&copyPool_, &path.relayBuf);
    path.dest = Dest::kSink;
    path.destPtr = nullptr;
  }
  if (!opt_.reroute && !path.dead) {
    // Static striping has no other path for this one's chunks: a send
    // that needs it fails (progress), a receive waits for the timeout
    // unless every path is gone.
    path.dead = true;
    path.health.onError(now, why);  // recorded like any other state change
    lastFailure_ = pathError(p, why);
    return allDeadWhileNeeded() ? lastFailure_ : Status::ok();
  }
  if (!path.dead) {
    path.dead = true;
    path.curActive = false;
    path.ctrlOut.clear();
    path.ctrlOutDone = 0;
    path.health.onError(now, why);
    requeueInflight(path);  // also when the health callback already did
    // Chunks half read from it are read again from another path.
    for (InMsg& m : in_) {
      for (uint8_t& c : m.chunk) {
        if (c == kReading + p) c = kMissing;
      }
    }
    path.dest = Dest::kSink;
  }
  lastFailure_ = pathError(p, why + "; no path to the peer is left");
  return allDeadWhileNeeded() ? lastFailure_ : Status::ok();
}

bool Link::allDeadWhileNeeded() {
  for (const Path& o : paths_) {
    if (!o.dead) return false;
  }
  // A peer that finished closes its end: only an error while we still
  // expect something of it (its last data and acks may have come with
  // the close, or been read aside just before it).
  if (!applyStaged().isOk()) return true;
  completeRecvs();
  completeSends();
  return !in_.empty() || waitingSends();
}

Link::OutMsg* Link::outMsg(uint64_t seq) {
  if (seq < outBase_ || seq >= outBase_ + out_.size()) return nullptr;
  return &out_[static_cast<size_t>(seq - outBase_)];
}

Link::InMsg* Link::inMsg(uint64_t seq) {
  if (seq < inBase_ || seq >= inBase_ + in_.size()) return nullptr;
  return &in_[static_cast<size_t>(seq - inBase_)];
}

Status Link::postSend(transport::Request* r) {
  r->progressed = 0;
  r->done = false;
  OutMsg m;
  m.req = r;
  m.seq = nextSendSeq_++;
  m.bytes = r->bytes;
  m.tag = r->tag;
  m.data = static_cast<const char*>(r->buf);
  if (r->bytes <= kEagerBytes && eagerBytes_ + r->bytes <= kEagerBudget) {
    m.copy = takeFrom(&copyPool_);
    m.copy.assign(m.data, m.data + r->bytes);
    m.data = m.copy.data();
    m.eager = true;
    eagerBytes_ += r->bytes;
  }
  m.chunk = takeFrom(&statePool_);
  m.chunk.assign(chunkCount(r->bytes), kUnsent);
  out_.push_back(std::move(m));
  return Status::ok();
}

Status Link::postRecv(transport::Request* r) {
  r->progressed = 0;
  r->done = false;
  InMsg m;
  m.req = r;
  m.seq = nextRecvSeq_++;
  m.chunk = takeFrom(&statePool_);
  m.chunk.assign(chunkCount(r->bytes), kMissing);
  in_.push_back(std::move(m));
  return applyStaged();
}

Status Link::probe() {
  // The calibration ping: on the first path that is alive.
  for (Path& p : paths_) {
    if (p.dead) continue;
    Frame f{kFramePing, 0, 0, 0, 0, monotonicNs()};
    probe_ = transport::ProbeSample{f.tag, 0};
    p.ctrl.push(f);
    p.health.onProbeSent(f.tag);
    return Status::ok();
  }
  return pathError(0, "no path to the peer is alive");
}

void Link::fillEstimates(uint64_t now) {
  for (size_t i = 0; i < paths_.size(); ++i) {
    const Path& p = paths_[i];
    PathEstimate& e = est_[i];
    e.usable = !p.dead && p.health.state() != probe::PathState::kDown;
    e.degraded = p.health.state() == probe::PathState::kDegraded;
    e.bytesPerUs = p.health.capacityBps() / 1e6;
    // The goodput is learnt from acks: a path that suddenly slows sends
    // none, and its last estimate would stand. Silence bounds it: a path
    // owing acks that has delivered nothing for S us carries at most
    // kSilenceChunks chunks per S.
    // (Owing acks for any frame: also one all of whose frames went again
    // elsewhere. They are still ahead of a new chunk on its wire and count
    // against its cap; judged by `waiting` alone, such a path stuck in TCP
    // back-off kept its old rate and, full, held every new chunk.)
    if (p.unackedBytes > 0 && now > p.lastAckNs && e.bytesPerUs > 0) {
      const double silenceUs = static_cast<double>(now - p.lastAckNs) / 1e3;
      e.bytesPerUs = std::min(e.bytesPerUs, kSilenceChunks * kChunkBytes / silenceUs);
    }
    // Nor does silence alone: a path cut to a twentieth still acks a
    // chunk now and then, each ack lifting the bound above, while its
    // capacity keeps the fast samples of before for up to the window. The
    // goodput sample being gathered says it sooner: the path has held data
    // since rateStartNs and delivered rateBytes; it is credited with at
    // most that and kSilenceChunks chunks more over the span. (A healthy
    // path delivers about its rate over any span: no change.)
    if (p.waiting > 0 && now > p.rateStartNs && e.bytesPerUs > 0) {
      const double spanUs = static_cast<double>(now - p.rateStartNs) / 1e3;
      e.bytesPerUs = std::min(e.bytesPerUs, (static_cast<double>(p.rateBytes) + kSilenceChunks * kChunkBytes) / spanUs);
    }
    e.rttUs = p.health.netRttEwmaUs() > 0 ? p.health.netRttEwmaUs() : p.health.rttEwmaUs();
    // Everything written and not acknowledged is ahead of a new chunk on
    // the wire, including chunks also handed to another path since.
    e.queuedBytes = p.unackedBytes;
    e.capBytes = opt_.pathCapBytes;
  }
  // With every path down but not dead there is nowhere better to go:
  // keep using them (a busy peer looks like a bad path, and waiting for a
  // path to prove itself healthy could wait forever), the ones that showed
  // life last (an ack, or the kernel acknowledging our bytes) first: one
  // judged down under load beside a rail that is really gone.
  bool any = false;
  for (const PathEstimate& e : est_) any = any || e.usable;
  if (!any) {
    uint64_t freshest = 0;
    // A path whose NIC the kernel says is down is no candidate, unless
    // every NIC is.
    bool nicLeft = false;
    for (const Path& p : paths_) nicLeft = nicLeft || (!p.dead && !p.nicDown);
    for (const Path& p : paths_) {
      if (!p.dead && (!nicLeft || !p.nicDown)) freshest = std::max({freshest, p.lastAckRecvNs, p.netAliveNs});
    }
    const uint64_t slackNs = opt_.probe.downUs * 1000;
    for (size_t i = 0; i < paths_.size(); ++i) {
      const Path& p = paths_[i];
      est_[i].usable = !p.dead && (!nicLeft || !p.nicDown) &&
                       std::max(p.lastAckRecvNs, p.netAliveNs) + slackNs >= freshest;
    }
  }
}

bool Link::peekChunk(uint64_t* seq, uint32_t* chunk, bool* again) {
  while (!resend_.empty()) {
    OutMsg* m = outMsg(resend_.front().seq);
    if (m != nullptr && m->chunk[resend_.front().chunk] != kAcked) break;
    resend_.pop_front();  // acknowledged meanwhile
  }
  if (!resend_.empty()) {
    *seq = resend_.front().seq;
    *chunk = resend_.front().chunk;
    *again = true;
    return true;
  }
  for (OutMsg& o : out_) {
    if (o.nextFresh < o.chunk.size()) {
      *seq = o.seq;
      *chunk = static_cast<uint32_t>(o.nextFresh);
      *again = false;
      return true;
    }
  }
  return false;
}

void Link::takeChunk(uint64_t seq, bool again) {
  if (again) {
    resend_.pop_front();
  } else {
    ++outMsg(seq)->nextFresh;
  }
}

bool Link::nextChunkFor(size_t p, uint64_t now, Frame* f, const char** payload) {
  // A cut link's chunks go through relays (pumpRelay), while one can take
  // them; a slow one's, those pickLane gives the relay lane.
  if (relaying_ && relayUsable_) return false;
  // Which chunk is next: one to send again, else the first not yet sent.
  uint64_t seq = 0;
  uint32_t chunk = 0;
  bool again = false;
  bool hedged = false;  // taken over from a slow path: for this path, whatever pickPath says
  if (!peekChunk(&seq, &chunk, &again)) {
    // Nothing new for this path: maybe a chunk stuck on a slower one.
    if (!opt_.reroute || !hedgeFrom(p, now)) return false;
    seq = resend_.front().seq;
    chunk = resend_.front().chunk;
    again = hedged = true;
  }
  OutMsg* m = outMsg(seq);
  const uint32_t len = chunkLen(m->bytes, chunk);
  if (hedged) {
    // hedgeFrom judged this path the faster way to deliver it.
  } else if (opt_.reroute) {
    fillEstimates(now);
    if (pickLane(len, now) != static_cast<int>(p)) return false;
  } else {
    // Static striping: chunks take turns over the paths, whatever their state.
    if (stripe_ % paths_.size() != p) return false;
    ++stripe_;
  }
  takeChunk(seq, again);
  *f = Frame{kFrameData, len, seq, static_cast<uint64_t>(chunk) * kChunkBytes, m->bytes, m->tag};
  *payload = m->data + static_cast<size_t>(chunk) * kChunkBytes;
  Path& path = paths_[p];
  // The frame is written next, after everything written before it.
  path.inflight.push_back(Inflight{seq, chunk, len, false, path.wireBytes + sizeof(Frame) + len});
  path.inflightBytes += len;
  path.unackedBytes += len;
  if (++path.waiting == 1) {
    path.lastAckNs = now;  // the stall clock starts now
    path.tcpAckedChangeNs = now;  // and the kernel's silence is counted from now
    path.rateStartNs = now;
    path.rateBytes = 0;
  }
  ++path.framesSent;
  ++path.chunksSent;
  path.bytesSent += len;
  return true;
}

Status Link::progressSend(size_t p, uint64_t now, bool* moved, bool startNew) {
  Path& path = paths_[p];
  constexpr size_t kHdr = sizeof(Frame);
  while (!path.dead) {
    // The control frames queued (acks, pings, pongs) go out together, in
    // one write with the frame after them: a system call each added tens
    // of thousands a second per rank on a busy link (a ping and a pong per
    // path every 100 us, the acks). They join those not written yet as
    // long as none of the next frame is written (a socket that refused
    // it must not hold them behind its 64 KiB).
    if (!path.ctrl.empty() && (!path.curActive || path.curDone == 0)) {
      if (path.ctrlOutDone == path.ctrlOut.size()) {
        path.ctrlOut.clear();
        path.ctrlOutDone = 0;
      }
      size_t added = 0;
      while (!path.ctrl.empty() && (path.ctrlOut.size() - path.ctrlOutDone) / kHdr < kCtrlBatch) {
        const Frame& f = path.ctrl.front();
        const char* b = reinterpret_cast<const char*>(&f);
        path.ctrlOut.insert(path.ctrlOut.end(), b, b + kHdr);
        path.ctrl.pop();
        added += kHdr;
      }
      // (Now ahead of the data frame picked already.)
      if (path.curActive && path.cur.kind == kFrameData && !path.inflight.empty()) {
        path.inflight.back().wireEnd += added;
      }
    }
    if (!path.curActive) {
      if (startNew && (takeRelayFrame(p) || nextChunkFor(p, now, &path.cur, &path.curPayload))) {
        path.curDone = 0;
        path.curActive = true;
        // Its end on the wire comes after the control bytes still ahead of it.
        if (path.cur.kind == kFrameData) path.inflight.back().wireEnd += path.ctrlOut.size() - path.ctrlOutDone;
      }
    }
    const size_t ctrlLeft = path.ctrlOut.size() - path.ctrlOutDone;
    if (ctrlLeft == 0 && !path.curActive) return Status::ok();
    iovec iov[3];
    int n = 0;
    if (ctrlLeft > 0) iov[n++] = {path.ctrlOut.data() + path.ctrlOutDone, ctrlLeft};
    if (path.curActive) {
      if (path.curDone < kHdr) {
        iov[n++] = {reinterpret_cast<char*>(&path.cur) + path.curDone, kHdr - path.curDone};
      }
      const size_t payloadDone = path.curDone > kHdr ? path.curDone - kHdr : 0;
      if (path.cur.len > payloadDone) {
        iov[n++] = {const_cast<char*>(path.curPayload) + payloadDone, path.cur.len - payloadDone};
      }
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    ssize_t w = sendmsg(path.desc.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (wouldBlock(errno)) return Status::ok();
      const int err = errno;
      // A peer that closed once it had all it needed resets the
      // connection when a late ack or ping reaches it; what it sent last
      // may still wait in our kernel: read that first (reading stops at
      // the reset, and marks the path dead itself).
      bool read = false;
      MRD_TRY(progressRecv(p, now, &read));
      if (read) *moved = true;
      return path.dead ? Status::ok() : failPath(p, errnoText("send", err), now);
    }
    if (w == 0) return Status::ok();
    path.wireBytes += static_cast<uint64_t>(w);
    // The control bytes were first in the write.
    size_t written = static_cast<size_t>(w);
    const size_t ctrlWritten = std::min(written, ctrlLeft);
    path.ctrlOutDone += ctrlWritten;
    written -= ctrlWritten;
    if (path.ctrlOutDone == path.ctrlOut.size()) {
      path.ctrlOut.clear();
      path.ctrlOutDone = 0;
    }
    if (!path.curActive) continue;  // more control frames may wait
    // Probes and acks moving is not the operation moving: only data
    // counts (or the executor's timeout would never fire while pings flow).
    if (written > 0) *moved = true;
    path.curDone += written;
    if (path.curDone < kHdr + path.cur.len) return Status::ok();
    path.curActive = false;
    path.curCopy.clear();
    if (path.cur.kind == kFrameData) {
      // In the kernel's hands now: an eager send may report done.
      OutMsg* m = outMsg(path.cur.seq);
      const size_t c = static_cast<size_t>(path.cur.offset / kChunkBytes);
      if (m != nullptr && m->chunk[c] == kUnsent) {
        m->chunk[c] = kWritten;
        ++m->writtenCount;
      }
    }
  }
  return Status::ok();
}

void Link::handleAck(size_t p, uint64_t count, uint64_t now) {
  Path& path = paths_[p];
  if (count <= path.framesAcked) return;
  uint64_t bytes = 0;
  // Frames are acknowledged in the order they were handed to the path.
  for (uint64_t k = path.framesAcked; k < count && !path.inflight.empty(); ++k) {
    const Inflight f = path.inflight.front();
    path.inflight.pop_front();
    path.unackedBytes -= f.len;
    if (!f.requeued) {
      path.inflightBytes -= f.len;
      --path.waiting;
      bytes += f.len;
    }
    OutMsg* m = outMsg(f.seq);
    if (m != nullptr && m->chunk[f.chunk] != kAcked) {
      if (m->chunk[f.chunk] == kUnsent) ++m->writtenCount;
      m->chunk[f.chunk] = kAcked;
      ++m->ackedCount;
    }
  }
  path.framesAcked = count;
  path.lastAckRecvNs = now;
  // Goodput samples span at least kRateSampleBytes of acks (single acks
  // come in bursts: their gaps say little), timed from the first send of
  // a busy stretch or the previous sample.
  path.rateBytes += bytes;
  if (path.rateBytes >= kRateSampleBytes || (path.waiting == 0 && path.rateBytes >= kChunkBytes)) {
    if (now > path.rateStartNs) path.health.onGoodput(now, path.rateBytes, now - path.rateStartNs);
    path.rateBytes = 0;
    path.rateStartNs = now;
  }
  if (path.waiting == 0) path.rateBytes = 0;
  path.lastAckNs = now;
  path.health.onProgress(now);
}

Status Link::handleControl(size_t p, uint64_t now) {
  Path& path = paths_[p];
  switch (path.in.kind) {
    case kFrameAck: {
      // For this path, or (seq = k + 1) for path k, whose own way back was slower.
      const uint64_t forPath = path.in.seq == 0 ? p : path.in.seq - 1;
      if (forPath >= paths_.size()) {
        return pathError(p, "ack for path " + std::to_string(forPath) + " of " + std::to_string(paths_.size()) +
                                " (corrupt stream)");
      }
      handleAck(static_cast<size_t>(forPath), path.in.tag, now);
      break;
    }
    case kFramePing: {
      // Echoes the ping's time and queueing; adds the pong's own queueing
      // and whether the ping was read in the first round after this side
      // was away (between operations, not reading): then it may have
      // waited for us, not for the network.
      path.ctrl.push(Frame{kFramePong, 0, queueAheadNs(path), path.in.offset, backFromAway_ ? 1u : 0u,
                           path.in.tag});
      break;
    }
    case kFrameRelayAck:
      return handleRelayAck(p, now);
    case kFrameNicDown: {
      if (path.in.tag >= paths_.size()) {
        return pathError(p, "NIC-down notice for path " + std::to_string(path.in.tag) + " of " +
                                std::to_string(paths_.size()) + " (corrupt stream)");
      }
      Path& gone = paths_[static_cast<size_t>(path.in.tag)];
      if (!gone.dead && opt_.reroute) {
        gone.health.onError(now, "the peer's NIC " + gone.desc.remoteNic + " is down (its kernel link event)");
      }
      break;
    }
    case kFramePong:
      if (path.in.tag == path.pingSentNs) path.pingSentNs = 0;
      if (path.in.tag <= now) {
        const uint64_t rtt = now - path.in.tag;
        // Bounded: a wild value from the peer must not wrap the sum.
        const uint64_t queued = std::min(path.in.offset, rtt) + std::min(path.in.seq, rtt);
        const uint64_t net = rtt > queued ? rtt - queued : 0;
        // (A pong read after our NIC went down left before: it proves nothing.)
        const bool away = path.in.msgBytes != 0 || backFromAway_ || path.nicDown;
        const uint64_t sibling = bestLiveNs(&probe::PathHealth::netRttEwmaUs, p);
        path.health.onRttSample(now, rtt, net, !away, sibling);
      }
      if (path.in.tag == probe_.sentNs) probe_.rttNs = now - probe_.sentNs;
      break;
    default:
      break;
  }
  return Status::ok();
}

Status Link::beginData(size_t p) {
  Path& path = paths_[p];
  const Frame& f = path.in;
  path.inGot = 0;
  path.dest = Dest::kSink;
  if (f.seq < inBase_) return Status::ok();  // a late copy of a finished message
  InMsg* m = inMsg(f.seq);
  if (m == nullptr) return Status::ok();     // not posted yet: the caller waits
  if (f.tag != m->req->tag || f.msgBytes != m->req->bytes) {
    return pathError(p, "message mismatch: expected tag " + std::to_string(m->req->tag) + " of " +
                            std::to_string(m->req->bytes) + " bytes, got tag " +
                            std::to_string(f.tag) + " of " + std::to_string(f.msgBytes) +
                            " bytes (operations issued in a different order on the two ranks?)");
  }
  if (!chunkHeaderValid(f)) {
    return pathError(p, "corrupt chunk header (offset " + std::to_string(f.offset) + ", length " +
                            std::to_string(f.len) + " of a " + std::to_string(f.msgBytes) +
                            "-byte message)");
  }
  uint8_t& state = m->chunk[static_cast<size_t>(f.offset / kChunkBytes)];
  if (state == kDone) return Status::ok();
  if (state == kMissing) {
    state = static_cast<uint8_t>(kReading + p);
    path.dest = Dest::kUser;
    path.destPtr = static_cast<char*>(m->req->buf) + f.offset;
  } else {
    // Another path is reading this chunk (it stalled and we re-sent it):
    // read this copy aside; whichever finishes first counts.
    path.scratch.resize(kChunkBytes);
    path.dest = Dest::kScratch;
    path.destPtr = path.scratch.data();
  }
  return Status::ok();
}

void Link::finishData(size_t p) {
  Path& path = paths_[p];
  const Frame& f = path.in;
  if (path.rxFrames == path.ackQueued) path.firstUnackedRxNs = monotonicNs();
  ++path.rxFrames;
  if (f.msgBytes > kEagerBytes) path.ackUrgent = true;
  path.bytesReceived += f.len;
  if (path.dest == Dest::kSink) return;
  if (path.dest == Dest::kStage) {
    keepStaged(p);
    return;
  }
  InMsg* m = inMsg(f.seq);
  if (m == nullptr) return;
  uint8_t& state = m->chunk[static_cast<size_t>(f.offset / kChunkBytes)];
  if (state == kDone) return;
  if (path.dest == Dest::kScratch) {
    std::memcpy(static_cast<char*>(m->req->buf) + f.offset, path.scratch.data(), f.len);
    if (state >= kReading) {
      // The path still reading it now reads the rest into the sink.
      Path& other = paths_[state - kReading];
      other.dest = Dest::kSink;
    }
  }
  state = kDone;
  ++m->doneCount;
  m->req->progressed += f.len;
}

Status Link::stageFrame(size_t p, bool* staged) {
  Path& path = paths_[p];
  const Frame& f = path.in;
  *staged = false;
  if (!chunkHeaderValid(f)) {
    return pathError(p, "corrupt chunk header (offset " + std::to_string(f.offset) + ", length " +
                            std::to_string(f.len) + " of a " + std::to_string(f.msgBytes) +
                            "-byte message)");
  }
  if (stagedBytes_ + f.len > kStageBudget) return Status::ok();
  path.stageBuf = takeFrom(&copyPool_);
  path.stageBuf.resize(f.len);
  path.dest = Dest::kStage;
  path.destPtr = path.stageBuf.data();
  stagedBytes_ += f.len;
  *staged = true;
  return Status::ok();
}

void Link::keepStaged(size_t p) {
  Path& path = paths_[p];
  const Frame& f = path.in;
  const auto key = std::make_pair(f.seq, static_cast<uint32_t>(f.offset / kChunkBytes));
  if (staged_.count(key) != 0) {  // a second copy (re-sent on another path)
    stagedBytes_ -= f.len;
    giveBack(&copyPool_, &path.stageBuf);
    return;
  }
  staged_.emplace(key, Staged{f.tag, f.msgBytes, std::move(path.stageBuf)});
  path.stageBuf = {};
}

Status Link::applyStaged() {
  while (!staged_.empty()) {
    auto it = staged_.begin();
    const uint64_t seq = it->first.first;
    const uint32_t c = it->first.second;
    if (seq >= inBase_ + in_.size()) break;  // still not posted
    Staged& st = it->second;
    InMsg* m = inMsg(seq);
    if (m != nullptr) {
      if (st.tag != m->req->tag || st.msgBytes != m->req->bytes) {
        return remoteError("rank " + std::to_string(self_) + " <-> peer " + std::to_string(peer_) +
                           " (tcp, channel " + std::to_string(channel_) + ", a chunk read aside)" +
                           ": message mismatch: expected tag " + std::to_string(m->req->tag) + " of " +
                           std::to_string(m->req->bytes) + " bytes, got tag " + std::to_string(st.tag) +
                           " of " + std::to_string(st.msgBytes) +
                           " bytes (operations issued in a different order on the two ranks?)");
      }
      uint8_t& state = m->chunk[c];
      if (state != kDone) {
        if (!st.data.empty()) {
          std::memcpy(static_cast<char*>(m->req->buf) + static_cast<size_t>(c) * kChunkBytes,
                      st.data.data(), st.data.size());
        }
        // A path reading the same chunk into the buffer now reads the rest aside.
        if (state >= kReading) paths_[state - kReading].dest = Dest::kSink;
        state = kDone;
        ++m->doneCount;
        m->req->progressed += st.data.size();
      }
    }
    stagedBytes_ -= st.data.size();
    giveBack(&copyPool_, &st.data);
    staged_.erase(it);
  }
  return Status::ok();
}

ssize_t Link::readStream(Path& path, char* to, size_t want) {
  if (path.rxBegin < path.rxEnd) {
    const size_t n = std::min(want, path.rxEnd - path.rxBegin);
    std::memcpy(to, path.rx.data() + path.rxBegin, n);
    path.rxBegin += n;
    return static_cast<ssize_t>(n);
  }
  path.rxBegin = path.rxEnd = 0;
  if (path.rxDry) {
    errno = EAGAIN;
    return -1;
  }
  const bool direct = want >= kReadAhead / 2 || path.rxBulk;
  if (!direct && path.rx.size() < kReadAhead) path.rx.resize(kReadAhead);
  const size_t ask = direct ? want : path.rx.size();
  ssize_t r = recv(path.desc.fd, direct ? to : path.rx.data(), ask, MSG_DONTWAIT);
  if (r < 0 || static_cast<size_t>(r) < ask) path.rxDry = true;
  if (r <= 0 || direct) return r;
  path.rxEnd = static_cast<size_t>(r);
  const size_t n = std::min(want, path.rxEnd);
  std::memcpy(to, path.rx.data(), n);
  path.rxBegin = n;
  return static_cast<ssize_t>(n);
}

Status Link::progressRecv(size_t p, uint64_t now, bool* moved) {
  Path& path = paths_[p];
  constexpr size_t kHdr = sizeof(Frame);
  path.rxDry = false;
  while (!path.dead && !path.eof) {
    if (path.inHdrGot < kHdr) {
      ssize_t r = readStream(path, reinterpret_cast<char*>(&path.in) + path.inHdrGot, kHdr - path.inHdrGot);
      if (r == 0 && path.inHdrGot == 0) {
        // The peer closed: fine once it finished with us, an error before.
        path.eof = true;
        return failPath(p, "connection closed by the peer", now);
      }
      if (r == 0) return failPath(p, "connection closed by the peer", now);
      if (r < 0) return wouldBlock(errno) ? Status::ok() : failPath(p, errnoText("recv", errno), now);
      path.inHdrGot += static_cast<size_t>(r);
      path.lastRxNs = now;
      // (The rest may still be in the socket: a read-ahead can end inside
      // a header. The next read finds it, or the round's dry rule stops.)
      if (path.inHdrGot < kHdr) continue;
      if (path.in.kind == kFrameData || path.in.kind == kFrameAck || path.in.kind == kFrameRelay ||
          path.in.kind == kFrameRelayAck) {
        *moved = true;
      }
      if (isControl(path.in.kind)) {
        if (path.in.len != 0) return pathError(p, "control frame with a payload (corrupt stream)");
        MRD_TRY(handleControl(p, now));
        path.inHdrGot = 0;
        continue;
      }
      path.inGot = 0;
      path.rxBulk = path.in.len >= kReadAhead / 2;
      if (path.in.kind == kFrameRelay && path.in.len >= sizeof(Frame) && path.in.len <= sizeof(Frame) + kChunkBytes) {
        // Another rank's chunk, to deliver here or pass on: read whole first.
        path.relayBuf = takeFrom(&copyPool_);
        path.relayBuf.resize(path.in.len);
        path.dest = Dest::kRelay;
        path.destPtr = path.relayBuf.data();
      } else if (path.in.kind == kFrameGoodbye && path.in.len <= kGoodbyeMaxBytes) {
        path.scratch.resize(path.in.len);
        path.dest = Dest::kGoodbye;
        path.destPtr = path.scratch.data();
      } else if (path.in.kind != kFrameData || path.in.len > kChunkBytes) {
        return pathError(p, "unknown frame (kind " + std::to_string(path.in.kind) + ", length " +
                                std::to_string(path.in.len) + "): corrupt stream or version mismatch");
      } else {
        path.dest = Dest::kSink;
        path.destPtr = nullptr;
      }
    }
    // A data frame: place it once its message is posted.
    if (path.inGot == 0 && path.destPtr == nullptr) {
      if (path.in.seq >= inBase_ && inMsg(path.in.seq) == nullptr) {
        bool staged = false;
        MRD_TRY(stageFrame(p, &staged));
        if (!staged) return Status::ok();  // over the budget: it waits for its receive
      } else {
        MRD_TRY(beginData(p));
        if (path.dest == Dest::kSink) path.destPtr = sink_.data();
      }
    }
    while (path.inGot < path.in.len) {
      char* to = path.dest == Dest::kSink ? sink_.data() + (path.inGot % kChunkBytes) : path.destPtr + path.inGot;
      size_t want = path.in.len - path.inGot;
      if (path.dest == Dest::kSink) want = std::min(want, kChunkBytes - path.inGot % kChunkBytes);
      ssize_t r = readStream(path, to, want);
      if (r == 0) return failPath(p, "connection closed by the peer", now);
      if (r < 0) return wouldBlock(errno) ? Status::ok() : failPath(p, errnoText("recv", errno), now);
      *moved = true;
      path.inGot += static_cast<size_t>(r);
      path.lastRxNs = now;
    }
    if (path.dest == Dest::kGoodbye) {
      // The peer gave up: every wait on it ends here, with its reason.
      path.eof = true;
      return remoteError("rank " + std::to_string(self_) + " <-> peer " + std::to_string(peer_) +
                         " (tcp): " + transport::kPeerFailed + std::string(path.scratch.data(), path.in.len));
    }
    const bool relayed = path.dest == Dest::kRelay;
    if (!relayed) finishData(p);
    path.inHdrGot = 0;
    path.inGot = 0;
    path.destPtr = nullptr;
    if (relayed) {
      // (The frame is off the stream first: an error here leaves it whole.)
      path.dest = Dest::kSink;
      MRD_TRY(finishRelayFrame(p));
    }
  }
  return Status::ok();
}

void Link::checkNetworkProgress(Path& path, uint64_t now) {
  // When our acknowledgements are late, that is a stall only if the
  // network stopped too: a peer busy elsewhere (or descheduled on a
  // crowded host) reads late, but the kernel still acknowledges our bytes,
  // or has none in flight because the peer's window is full.
  // (Read while acks are on time too, only less often: the other paths'
  // retransmit bounds say how long a loaded rail may go silent.)
  const uint64_t lateNs = opt_.probe.downUs * 1000 / 2;
  const bool late = now - path.lastAckNs >= lateNs;
  if (path.waiting == 0 || now - path.lastTcpCheckNs < (late ? lateNs / 4 : lateNs)) return;
  path.lastTcpCheckNs = now;
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (getsockopt(path.desc.fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return;
  // Alive: nothing of ours is unacknowledged in the network (the peer's
  // window may be full: it is slow, not the path), or its kernel sent an
  // ACK lately (ms resolution).
  // Stalled: bytes of ours in flight and the kernel's count of bytes the
  // peer acknowledged unchanged for ackGapNs, and not because
  // the peer's window is shut (zero-window probes: it reads slowly).
  // (tcpi_last_ack_recv would be simpler, but it counts in jiffies: 4 ms
  // steps at HZ=250, coarser than the stall time.)
  const uint64_t acked = len >= offsetof(tcp_info, tcpi_bytes_acked) + sizeof ti.tcpi_bytes_acked
                             ? ti.tcpi_bytes_acked
                             : 0;
  path.rtoNs = (static_cast<uint64_t>(ti.tcpi_rtt) + 4ULL * ti.tcpi_rttvar) * 1000;
  const bool ackedMoved = acked != path.tcpBytesAcked;
  if (ackedMoved || path.tcpAckedChangeNs == 0) {
    path.tcpBytesAcked = acked;
    path.tcpAckedChangeNs = now;
  }
  const bool windowShut = ti.tcpi_probes > 0 ||
                          (len >= offsetof(tcp_info, tcpi_snd_wnd) + sizeof ti.tcpi_snd_wnd && ti.tcpi_snd_wnd == 0);
  // Stuck here: bytes in our socket the kernel does not send though the
  // peer's window is open and nothing is in flight (no route: the NIC is
  // down).
  const uint32_t notSent = len >= offsetof(tcp_info, tcpi_notsent_bytes) + sizeof ti.tcpi_notsent_bytes
                               ? ti.tcpi_notsent_bytes
                               : 0;
  // (Only where the kernel reports the peer's window: without it a shut
  // window would look the same.)
  const bool hasWnd = len >= offsetof(tcp_info, tcpi_snd_wnd) + sizeof ti.tcpi_snd_wnd;
  const bool stuckHere = hasWnd && ti.tcpi_unacked == 0 && notSent > 0;
  const bool silent = (ti.tcpi_unacked > 0 || stuckHere) && !windowShut &&
                      now - path.tcpAckedChangeNs >= ackGapNs(path);
  if (!silent) {
    path.health.onProgress(now);
    // Evidence of a working network, for the other paths' judgement: our
    // bytes acknowledged, or none waiting (not merely a silence too short
    // to judge yet).
    if (ackedMoved || (ti.tcpi_unacked == 0 && !stuckHere)) path.netAliveNs = now;
  }
}

void Link::detachFrames(uint64_t seq) {
  for (Path& path : paths_) {
    if (path.cur.seq == seq) detachCur(path);
  }
}

void Link::detachCur(Path& path) {
  // A frame half written stays on the wire (the stream must stay whole);
  // its payload moves to the path's own buffer.
  if (path.curActive && path.cur.kind == kFrameData && path.curPayload != nullptr &&
      path.curPayload != path.curCopy.data()) {
    path.curCopy.assign(path.curPayload, path.curPayload + path.cur.len);
    path.curPayload = path.curCopy.data();
  }
}

bool Link::waitingSends() const {
  // Eager sends the caller already has back do not count: the peer may
  // finish and close before its acknowledgement of them reaches us.
  for (const OutMsg& m : out_) {
    if (!m.reported) return true;
  }
  return false;
}

void Link::completeSends() {
  // Reported in posting order, as the transport contract says: a message
  // when every chunk is acknowledged; an eager one (copied) once every
  // chunk is written to a socket: the caller may leave the operation then,
  // and nothing would move data still queued here.
  bool inOrder = true;
  for (OutMsg& m : out_) {
    if (!m.reported) {
      const size_t n = m.chunk.size();
      if (!inOrder || !((m.eager && m.writtenCount == n) || m.ackedCount == n)) break;
      m.req->progressed = m.bytes;
      m.req->done = true;
      m.reported = true;
      // The caller may reuse its buffer now: a re-sent copy still being
      // written must not read it any more.
      if (!m.eager) detachFrames(m.seq);
    }
    inOrder = m.reported;
  }
  // Kept until acknowledged: a chunk may still have to be sent again.
  while (!out_.empty() && out_.front().reported && out_.front().ackedCount == out_.front().chunk.size()) {
    if (out_.front().eager) {
      eagerBytes_ -= out_.front().bytes;
      detachFrames(out_.front().seq);
    }
    giveBack(&copyPool_, &out_.front().copy);
    giveBack(&statePool_, &out_.front().chunk);
    out_.pop_front();
    ++outBase_;
  }
}

void Link::completeRecvs() {
  while (!in_.empty() && in_.front().doneCount == in_.front().chunk.size()) {
    if (in_.front().req->bytes > kEagerBytes) ackEverywhere_ = true;
    in_.front().req->progressed = in_.front().req->bytes;
    in_.front().req->done = true;
    giveBack(&statePool_, &in_.front().chunk);
    in_.pop_front();
    ++inBase_;
  }
}

Status Link::progress(bool* moved) {
  const uint64_t now = monotonicNs();
  if (opt_.nics != nullptr) {
    opt_.nics->poll(now);
    if (opt_.nics->generation() != nicGeneration_) checkNics(now);
  }
  // The first round after an operation ended reads what waited meanwhile.
  backFromAway_ = away_;
  away_ = false;
  if (!lastFailure_.isOk()) {
    // Re-routing needs one live path; static striping needs all of them.
    bool needed = allDeadWhileNeeded();
    if (!opt_.reroute && !needed) {
      // The next chunk's path is dead: nowhere else to send it.
      bool unsent = !resend_.empty();
      for (const OutMsg& m : out_) unsent = unsent || m.nextFresh < m.chunk.size();
      needed = unsent && paths_[stripe_ % paths_.size()].dead;
    }
    if (needed) return lastFailure_;
  }
  // Busy, for the probe's pace: bulk data in flight (a message above
  // kEagerBytes either way). Small messages alone are probed at the idle
  // pace: pinging every 100 us would double a latency-bound loop's frames,
  // and acknowledgements show such a path alive anyway.
  bool busy = false;
  for (const OutMsg& m : out_) busy = busy || (!m.eager && m.ackedCount < m.chunk.size());
  for (const InMsg& m : in_) busy = busy || m.req->bytes > kEagerBytes;
  // A small message on an idle link goes out before anything is read: the
  // peer waits for it (read first, it waited for a recv() that found
  // nothing). (Bulk traffic keeps the order below: acks read first steer
  // its chunks.)
  bool idleLink = freshDataToSend() && out_.back().eager;
  for (const Path& path : paths_) idleLink = idleLink && path.waiting == 0;
  if (idleLink) {
    for (size_t p = 0; p < paths_.size(); ++p) {
      if (!paths_[p].dead) MRD_TRY(progressSend(p, now, moved));
    }
  }
  const bool watch = watchLife(now);
  for (size_t p = 0; p < paths_.size(); ++p) {
    Path& path = paths_[p];
    if (path.dead) continue;
    MRD_TRY(progressRecv(p, now, moved));
    queueAck(p, now, false);
    path.health.onOutstanding(now, path.waiting > 0);
    checkNetworkProgress(path, now);
    if (watch) checkLife(path, now);
    // A stall is judged against the other paths: when none of them shows
    // life lately either (an ack from the peer, or its kernel
    // acknowledging our bytes), the peer (or its host) is slow, not this
    // path, and moving its chunks elsewhere would only duplicate them.
    // (The kernel's word counts: a peer blocked on a chunk this path holds
    // may read nothing else, so no acks come on any path; its kernel still
    // acknowledges on the paths that work.)
    uint64_t othersAlive = 0;
    for (size_t q = 0; q < paths_.size(); ++q) {
      if (q == p || paths_[q].dead) continue;
      othersAlive = std::max({othersAlive, paths_[q].lastAckRecvNs, paths_[q].netAliveNs});
    }
    if (path.waiting > 0 && (othersAlive == 0 || now - othersAlive >= opt_.probe.downUs * 1000 / 2)) {
      path.health.onProgress(now);
    }
    path.health.tick(now);
    // One probe in flight per path: pings queued behind a blocked socket
    // would all come back at once, a burst of samples of one moment.
    if ((path.pingSentNs == 0 || now - path.pingSentNs > kPingGiveUpNs) && path.health.probeDue(now, busy)) {
      path.pingSentNs = now;
      path.ctrl.push(Frame{kFramePing, 0, 0, queueAheadNs(path), 0, now});
      path.health.onProbeSent(now);
    }
  }
  MRD_TRY(applyStaged());
  completeRecvs();
  if (ackEverywhere_) ackOnEveryPath(now);
  judgeCut(now);
  judgeSlow(now);
  pumpRelay(now, moved);
  for (size_t p = 0; p < paths_.size(); ++p) MRD_TRY(progressSend(p, now, moved));
  completeSends();
  MRD_TRY(judgeLost(now));
  if (opt_.log != nullptr) {
    // Rate-limited here too: the log's own limit takes a lock.
    for (size_t p = 0; p < paths_.size(); ++p) {
      if (now - paths_[p].lastLogNs < opt_.probe.logIntervalUs * 1000) continue;
      paths_[p].lastLogNs = now;
      const probe::PathTraffic traffic{channel_, paths_[p].desc.rail, paths_[p].bytesSent,
                                       paths_[p].unackedBytes};
      opt_.log->sample(now, self_, peer_, static_cast<int>(p), paths_[p].health, &traffic);
    }
  }
  return Status::ok();
}

bool Link::freshDataToSend() const {
  // (A relaying link's own chunks do not go on its paths.)
  return !(relaying_ && relayUsable_) && !out_.empty() && out_.back().nextFresh < out_.back().chunk.size();
}

void Link::addPollFds(std::vector<pollfd>* fds) const {
  const size_t before = fds->size();
  for (const Path& p : paths_) {
    if (p.dead) continue;
    // Readable data we cannot place yet (its message is not posted) must
    // not wake us, or poll() returns at once forever.
    const bool blocked = p.inHdrGot == sizeof(Frame) && p.in.kind == kFrameData &&
                         p.destPtr == nullptr && p.in.seq >= inBase_ + in_.size();
    const bool wantIn = !p.eof && !blocked;
    const bool ownData = !resend_.empty() ? !(relaying_ && relayUsable_) : freshDataToSend();
    const bool wantOut = p.curActive || p.ctrlPending() || !relayOut_.empty() || ownData;
    short events = static_cast<short>((wantIn ? POLLIN : 0) | (wantOut ? POLLOUT : 0));
    if (events != 0) fds->push_back(pollfd{p.desc.fd, events, 0});
  }
  // (Only beside a socket: with nothing of its own to wait for, a caller
  // must see an empty set, not sleep on NIC events.)
  if (fds->size() > before && opt_.nics != nullptr && opt_.nics->fd() >= 0) {
    fds->push_back(pollfd{opt_.nics->fd(), POLLIN, 0});
  }
}

int64_t Link::timerDueUs() const {
  // Pings, and the stall check of paths holding unacknowledged data.
  // (Frames left half-written when an operation ended count: flush() leaves
  // them to the next moves on links that may relay.)
  bool acksWaiting = writesPending();
  for (const Path& p : paths_) acksWaiting = acksWaiting || (!p.dead && p.rxFrames > p.ackQueued);
  if (out_.empty() && in_.empty() && !acksWaiting && relayInflight_.empty() && relayOut_.empty()) return -1;
  int64_t due = static_cast<int64_t>(opt_.probe.intervalUs);
  for (const Path& p : paths_) {
    if (!p.dead && p.waiting > 0) due = std::min<int64_t>(due, opt_.probe.downUs / 4 + 1);
  }
  return due;
}

void Link::queueAck(size_t p, uint64_t now, bool force) {
  // One cumulative ack per round and path when a sender waits for it;
  // eager senders do not, so theirs are gathered (16 frames, 200 us, or
  // the end of the operation): half the frames for small messages.
  Path& path = paths_[p];
  if (path.rxFrames == path.ackQueued) return;
  // (`now` may predate the frame: it is taken once per progress round.)
  const bool overdue = now > path.firstUnackedRxNs && now - path.firstUnackedRxNs >= 200000;
  if (!force && !path.ackUrgent && path.rxFrames - path.ackQueued < 16 && !overdue) {
    return;
  }
  // On its own path, and a copy on another where it waits clearly less:
  // behind our own data on a path slowed both ways it would wait at the
  // slow rate, and the sender's message with it. (Never the copy alone:
  // should its path die with it, no later ack may come to replace it.)
  path.ctrl.push(Frame{kFrameAck, 0, 0, 0, 0, path.rxFrames});
  const size_t via = ackPath(p);
  if (via != p) paths_[via].ctrl.push(Frame{kFrameAck, 0, p + 1, 0, 0, path.rxFrames});
  path.ackQueued = path.rxFrames;
  path.ackUrgent = false;
}

void Link::ackOnEveryPath(uint64_t now) {
  ackEverywhere_ = false;
  for (size_t p = 0; p < paths_.size(); ++p) {
    Path& path = paths_[p];
    if (path.dead || path.rxFrames == 0) continue;
    queueAck(p, now, true);
    for (size_t q = 0; q < paths_.size(); ++q) {
      if (q != p && !paths_[q].dead) paths_[q].ctrl.push(Frame{kFrameAck, 0, p + 1, 0, 0, path.rxFrames});
    }
  }
}

size_t Link::ackPath(size_t p) const {
  // Another live path only when it is clearly quicker (by half, and by
  // more than kAckDetourNs): copies sent for little gain only add to the
  // reverse traffic.
  const uint64_t own = paths_[p].dead ? UINT64_MAX : queueAheadNs(paths_[p]);
  size_t best = p;
  uint64_t bestNs = own;
  for (size_t q = 0; q < paths_.size(); ++q) {
    const Path& o = paths_[q];
    if (q == p || o.dead || o.health.state() == probe::PathState::kDown) continue;
    const uint64_t ns = queueAheadNs(o);
    if (ns < bestNs) {
      best = q;
      bestNs = ns;
    }
  }
  // (A copy always leaves a path judged down: it may be the only way back.)
  const bool ownDown = paths_[p].health.state() == probe::PathState::kDown;
  if (best != p && own != UINT64_MAX && !ownDown && (bestNs > own / 2 || own - bestNs < kAckDetourNs)) return p;
  return best;
}

uint64_t Link::queueAheadNs(const Path& path) const {
  // Everything written and not acknowledged is ahead (the data frame being
  // written included); control frames not written yet, and what is left
  // of a relayed frame being written, add theirs.
  size_t bytes = path.unackedBytes + (path.ctrlOut.size() - path.ctrlOutDone);
  if (path.curActive && path.cur.kind != kFrameData) bytes += sizeof(Frame) + path.cur.len - path.curDone;
  if (bytes == 0) return 0;
  const double rate = path.health.capacityBps() > 0 ? path.health.capacityBps() : opt_.fallbackBytesPerUs * 1e6;
  return static_cast<uint64_t>(static_cast<double>(bytes) / rate * 1e9);
}

Status Link::flush(bool* idle) {
  const uint64_t now = monotonicNs();
  away_ = true;  // the operation ended: nothing reads until the next one
  bool moved = false;
  *idle = true;
  // Only acks a sender waits for (or overdue ones): a lone ack per
  // operation would double a latency-bound loop's frames. (All queued
  // first: one may go on another path.)
  for (size_t p = 0; p < paths_.size(); ++p) {
    if (!paths_[p].dead) queueAck(p, now, false);
  }
  for (size_t p = 0; p < paths_.size(); ++p) {
    if (!paths_[p].dead) MRD_TRY(progressSend(p, now, &moved, /*startNew=*/false));
  }
  // (A cut link's paths may never drain: its peer hears from it through
  // relays. A link that may relay is moved between operations too, by
  // the communicator's progress thread and every operation: what is stuck
  // in its sockets goes later, or through a relay once progress() has
  // judged the cut. Waiting here for a cut network waited for it to heal,
  // and for TCP's back-off after it: seconds.)
  *idle = relaying_ || router_ != nullptr || !writesPending();
  return Status::ok();
}

bool Link::writesPending() const {
  for (const Path& path : paths_) {
    if (!path.dead && (path.curActive || path.ctrlPending())) return true;
  }
  return false;
}

std::string Link::describeState() const {
  std::string s = "link: " + std::to_string(out_.size()) + " send(s) from seq " + std::to_string(outBase_);
  if (!out_.empty()) {
    const OutMsg& m = out_.front();
    s += " (first " + std::to_string(m.bytes) + " B, " + std::to_string(m.writtenCount) + "/" +
         std::to_string(m.chunk.size()) + " written, " + std::to_string(m.ackedCount) + " acked, " +
         std::to_string(m.nextFresh) + " handed out)";
  }
  s += ", " + std::to_string(resend_.size()) + " to resend, " + std::to_string(in_.size()) +
       " receive(s) from seq " + std::to_string(inBase_);
  if (!in_.empty()) {
    s += " (first " + std::to_string(in_.front().doneCount) + "/" + std::to_string(in_.front().chunk.size()) + " chunks)";
  }
  for (size_t i = 0; i < paths_.size(); ++i) {
    const Path& p = paths_[i];
    s += "; path " + std::to_string(i) + " " + (p.dead ? "dead" : probe::pathStateName(p.health.state())) +
         ", " + std::to_string(p.inflight.size()) + " unacked, sent " + std::to_string(p.framesSent) +
         " acked " + std::to_string(p.framesAcked) + ", received " + std::to_string(p.rxFrames) +
         (p.curActive ? ", writing" : "") + (p.inHdrGot == sizeof(Frame) && p.destPtr == nullptr ? ", holding a frame for seq " + std::to_string(p.in.seq) : "");
    // The kernel's side: data stuck in the network, or read by nobody.
    const std::string kernel = probe::describeTcpSocket(p.desc.fd);
    if (!kernel.empty()) s += " (" + kernel + ")";
  }
  if (!staged_.empty()) s += "; " + std::to_string(staged_.size()) + " chunk(s) of unposted receives read aside";
  if (relaying_) s += "; cut, relaying" + std::string(relayUsable_ ? "" : " (no relay available)");
  if (assisting_) s += "; slow, relaying beside the paths" + std::string(relayUsable_ ? "" : " (no relay available)");
  if (!relayInflight_.empty()) s += "; " + std::to_string(relayInflight_.size()) + " relayed chunk(s) unacked";
  if (!relayOut_.empty()) s += "; " + std::to_string(relayOut_.size()) + " frame(s) of other ranks to pass on";
  if (relayPassedBytes_ > 0 || relayDropped_ > 0) {
    s += "; passed on " + std::to_string(relayPassedBytes_) + " bytes for other ranks, dropped " +
         std::to_string(relayDropped_) + " relayed frame(s)";
  }
  return s;
}

void Link::stats(std::vector<PathStats>* out) const {
  out->clear();
  for (const Path& p : paths_) {
    PathStats s;
    s.rail = p.desc.rail;
    s.localNic = p.desc.localNic;
    s.remoteNic = p.desc.remoteNic;
    s.state = p.dead ? probe::PathState::kDown : p.health.state();
    s.rttP50Us = p.health.rttPercentileUs(50);
    s.rttP99Us = p.health.rttPercentileUs(99);
    s.goodputBps = p.health.goodputBps();
    s.bytesSent = p.bytesSent;
    s.chunksSent = p.chunksSent;
    s.resends = p.resends;
    s.bytesReceived = p.bytesReceived;
    s.transitions = p.health.transitions();
    out->push_back(std::move(s));
  }
  if (relayChunks_ == 0 && relayBytesReceived_ == 0 && relayTransitions_.empty()) return;
  // The relay lane: healthy while in use, down otherwise.
  PathStats r;
  r.rail = -1;
  r.localNic = "relay";
  r.remoteNic = lastRelayVia_ >= 0 ? "via rank " + std::to_string(lastRelayVia_) : "";
  r.state = relaying_ || assisting_ ? probe::PathState::kHealthy : probe::PathState::kDown;
  r.rttP50Us = r.rttP99Us = relayRttUs_;
  r.goodputBps = relayBytesPerUs_ * 1e6;
  r.bytesSent = relayBytesSent_;
  r.chunksSent = relayChunks_;
  r.resends = relayResends_;
  r.bytesReceived = relayBytesReceived_;
  r.transitions = relayTransitions_;
  out->push_back(std::move(r));
}

}  // namespace mrd::link
