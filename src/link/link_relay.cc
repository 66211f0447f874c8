// A link's relay lane: judging the link cut, sending its chunks through
// other ranks meanwhile, passing on and delivering other ranks' relayed
// frames. See relay_router.h for the scheme, link.h for the link.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>

#include "link/cpu_pressure.h"
#include "link/link.h"
#include "link/relay_router.h"
#include "core/mono_clock.h"
#include "log/log.h"
#include "probe/probe_log.h"

namespace mrd::link {
void Link::setRouter(RelayRouter* router) {
  router_ = router;
  relayJoined_ = relayJoined_ || router != nullptr;
  if (router_ != nullptr) router_->attach(peer_, this);
}

Status Link::relayError(const std::string& what) const {
  return remoteError("rank " + std::to_string(self_) + " <-> peer " + std::to_string(peer_) +
                     " (tcp, channel " + std::to_string(channel_) + ", relayed frame): " + what);
}

size_t Link::quickestPath() const {
  size_t best = SIZE_MAX, anyLive = SIZE_MAX;
  uint64_t bestNs = 0;
  for (size_t q = 0; q < paths_.size(); ++q) {
    const Path& o = paths_[q];
    if (o.dead) continue;
    if (anyLive == SIZE_MAX) anyLive = q;
    if (o.health.state() == probe::PathState::kDown) continue;
    const uint64_t ns = queueAheadNs(o);
    if (best == SIZE_MAX || ns < bestNs) {
      best = q;
      bestNs = ns;
    }
  }
  return best != SIZE_MAX ? best : anyLive;
}

void Link::queueRelayFrame(const Frame& hdr, std::vector<char> body) {
  if (relayOutBytes_ + body.size() > kRelayQueueBudget || quickestPath() == SIZE_MAX) {
    ++relayDropped_;  // its sender times out and sends it again
    return;
  }
  relayOutBytes_ += body.size();
  relayOut_.push_back(RelayOut{hdr, std::move(body)});
}

void Link::queueRelayControl(const Frame& f) {
  const size_t q = quickestPath();
  if (q != SIZE_MAX) paths_[q].ctrl.push(f);
}

bool Link::takeRelayFrame(size_t p) {
  // Other ranks' frames go before our own chunks (their senders bound
  // them, kRelayWindowBytes each), on any path the scheduler would use.
  if (relayOut_.empty()) return false;
  fillEstimates(monotonicNs());
  if (!est_[p].usable) return false;
  Path& path = paths_[p];
  RelayOut& r = relayOut_.front();
  relayOutBytes_ -= r.body.size();
  relayPassedBytes_ += r.body.size();
  path.cur = r.hdr;
  path.curCopy = std::move(r.body);
  path.curPayload = path.curCopy.data();
  relayOut_.pop_front();
  return true;
}

Status Link::finishRelayFrame(size_t p) {
  Path& path = paths_[p];
  std::vector<char> body = std::move(path.relayBuf);
  path.relayBuf = {};
  const Frame outer = path.in;
  if (router_ == nullptr) {
    // Closing (the router is gone): its sender sends it again elsewhere.
    giveBack(&copyPool_, &body);
    if (relayJoined_) return Status::ok();
    // Relaying is off here (two hosts, or MRD_REROUTE=0): nobody sends these.
    return pathError(p, "relayed frame on a communicator that does not relay (MRD_REROUTE differs between ranks, corrupt stream or version mismatch)");
  }
  const uint64_t n = static_cast<uint64_t>(router_->nranks());
  // The first hop comes from its origin; the last one from someone else.
  const bool toUs = outer.seq == static_cast<uint64_t>(self_);
  const bool fromPeer = outer.offset == static_cast<uint64_t>(peer_);
  if (outer.seq >= n || outer.offset >= n || outer.seq == outer.offset || toUs == fromPeer) {
    return pathError(p, "relayed frame from rank " + std::to_string(outer.offset) + " to rank " +
                            std::to_string(outer.seq) + " of " + std::to_string(n) + " (corrupt stream)");
  }
  const int dest = static_cast<int>(outer.seq);
  const int origin = static_cast<int>(outer.offset);
  if (dest != self_) {
    Link* next = router_->linkTo(dest);
    if (next == nullptr) {
      ++relayDropped_;  // (no link of ours reaches it: its sender times out and tries another relay)
      giveBack(&copyPool_, &body);
      return Status::ok();
    }
    next->queueRelayFrame(outer, std::move(body));
    return Status::ok();
  }
  Link* from = router_->linkTo(origin);
  Status st;
  if (from != nullptr) {
    Frame inner;
    std::memcpy(&inner, body.data(), sizeof inner);
    st = from->deliverRelayed(inner, body.data() + sizeof(Frame), body.size() - sizeof(Frame), peer_);
  }
  giveBack(&copyPool_, &body);
  return st;
}

Status Link::handleRelayAck(size_t p, uint64_t now) {
  const Frame f = paths_[p].in;
  if (router_ == nullptr) {
    if (relayJoined_) return Status::ok();  // closing
    return pathError(p, "relay ack on a communicator that does not relay (MRD_REROUTE differs between ranks, corrupt stream or version mismatch)");
  }
  const uint64_t n = static_cast<uint64_t>(router_->nranks());
  const bool toUs = f.seq == static_cast<uint64_t>(self_);
  const bool fromPeer = f.offset == static_cast<uint64_t>(peer_);
  if (f.seq >= n || f.offset >= n || f.seq == f.offset || toUs == fromPeer) {
    return pathError(p, "relay ack from rank " + std::to_string(f.offset) + " to rank " + std::to_string(f.seq) +
                            " of " + std::to_string(n) + " (corrupt stream)");
  }
  const int dest = static_cast<int>(f.seq);
  const int origin = static_cast<int>(f.offset);
  if (dest != self_) {
    if (Link* next = router_->linkTo(dest)) next->queueRelayControl(f);
    return Status::ok();
  }
  if (Link* to = router_->linkTo(origin)) to->onRelayAck(f.tag, f.msgBytes, now);
  return Status::ok();
}

Status Link::deliverRelayed(const Frame& f, const char* data, size_t len, int via) {
  relayBytesReceived_ += len;
  relayLifeNs_ = monotonicNs();
  if (f.kind != kFrameData || f.len != len || !chunkHeaderValid(f)) {
    return relayError("corrupt chunk header from rank " + std::to_string(peer_) + " via rank " +
                      std::to_string(via) + " (offset " + std::to_string(f.offset) + ", length " +
                      std::to_string(f.len) + " of a " + std::to_string(f.msgBytes) + "-byte message)");
  }
  const auto c = static_cast<uint32_t>(f.offset / kChunkBytes);
  bool have = f.seq < inBase_;  // a late copy of a finished message: acknowledged again
  if (InMsg* m = inMsg(f.seq)) {
    if (f.tag != m->req->tag || f.msgBytes != m->req->bytes) {
      return relayError("message mismatch: expected tag " + std::to_string(m->req->tag) + " of " +
                        std::to_string(m->req->bytes) + " bytes, got tag " + std::to_string(f.tag) + " of " +
                        std::to_string(f.msgBytes) +
                        " bytes (operations issued in a different order on the two ranks?)");
    }
    uint8_t& state = m->chunk[c];
    if (state != kDone) {
      if (len > 0) std::memcpy(static_cast<char*>(m->req->buf) + f.offset, data, len);
      // A path reading the same chunk into the buffer now reads the rest aside.
      if (state >= kReading) paths_[state - kReading].dest = Dest::kSink;
      state = kDone;
      ++m->doneCount;
      m->req->progressed += len;
    }
    have = true;
  } else if (!have) {
    // Its receive is not posted yet: read aside, as from a path (over the
    // budget it is dropped unacknowledged, and comes again).
    const auto key = std::make_pair(f.seq, c);
    if (staged_.count(key) != 0) {
      have = true;
    } else if (stagedBytes_ + len <= kStageBudget) {
      std::vector<char> copy = takeFrom(&copyPool_);
      copy.assign(data, data + len);
      staged_.emplace(key, Staged{f.tag, f.msgBytes, std::move(copy)});
      stagedBytes_ += len;
      have = true;
    }
  }
  if (have && router_ != nullptr) {
    if (Link* back = router_->linkTo(via)) back->queueRelayControl(Frame{kFrameRelayAck, 0, static_cast<uint64_t>(peer_), static_cast<uint64_t>(self_), c, f.seq});
  }
  completeRecvs();
  return Status::ok();
}

void Link::onRelayAck(uint64_t seq, uint64_t chunk, uint64_t now) {
  relayLifeNs_ = now;
  OutMsg* m = outMsg(seq);
  if (m != nullptr && chunk < m->chunk.size() && m->chunk[chunk] != kAcked) {
    if (m->chunk[chunk] == kUnsent) ++m->writtenCount;
    m->chunk[chunk] = kAcked;
    ++m->ackedCount;
  }
  for (auto it = relayInflight_.begin(); it != relayInflight_.end(); ++it) {
    if (it->seq != seq || it->chunk != chunk) continue;
    // (Not for a chunk sent again: the ack may be the first copy's.)
    if (!it->again) {
      const double us = static_cast<double>(now - it->sentNs) / 1e3;
      relayRttUs_ = relayRttUs_ == 0 ? us : 0.75 * relayRttUs_ + 0.25 * us;
      relayBaseRttUs_ = relayBaseRttUs_ == 0 ? us : std::min(relayBaseRttUs_, us);
    }
    relayLastAckNs_ = now;
    relayRateBytes_ += it->len;
    if (relayRateBytes_ >= kRateSampleBytes && now > relayRateStartNs_) {
      const double sample = static_cast<double>(relayRateBytes_) / (static_cast<double>(now - relayRateStartNs_) / 1e3);
      relayBytesPerUs_ = relayBytesPerUs_ == 0 ? sample : 0.5 * relayBytesPerUs_ + 0.5 * sample;
      relayRateBytes_ = 0;
      relayRateStartNs_ = now;
    }
    relayInflightBytes_ -= it->len;
    relayInflight_.erase(it);
    break;
  }
  completeSends();
}

void Link::markRelay(bool wasOpen, const std::string& why, uint64_t now) {
  const bool open = relaying_ || assisting_;
  probe::Transition t{now, wasOpen ? probe::PathState::kHealthy : probe::PathState::kDown,
                      open ? probe::PathState::kHealthy : probe::PathState::kDown, why};
  relayTransitions_.push_back(t);
  if (relayTransitions_.size() > 64) relayTransitions_.erase(relayTransitions_.begin());
  MRD_LOG_INFO(kNet, "rank {} peer {} channel {}: {}", self_, peer_, channel_, why);
  if (opt_.log != nullptr) opt_.log->transition(now, self_, peer_, -1, t);
}

void Link::judgeCut(uint64_t now) {
  if (!opt_.reroute || router_ == nullptr) return;
  // Signs of life: bytes read from a path, or the kernel acknowledging our
  // bytes on it (TCP_INFO, checkNetworkProgress).
  uint64_t evidence = 0;
  for (const Path& p : paths_) {
    if (!p.dead) evidence = std::max({evidence, p.lastRxNs, p.netAliveNs});
  }
  if (relaying_) {
    // Ends once a path both shows life and has its probes back (down ->
    // degraded): one packet through is not enough, as a path still in
    // TCP's retransmit back-off beside it would hold the chunks handed to
    // it for up to seconds.
    bool back = false;
    for (const Path& p : paths_) {
      back = back || (!p.dead && p.health.state() != probe::PathState::kDown &&
                      std::max(p.lastRxNs, p.netAliveNs) > relaySinceNs_);
    }
    if (back) {
      relaying_ = false;
      slowSinceNs_ = recoveredSinceNs_ = 0;  // judged slow, or not, afresh
      markRelay(true, "a path is back: relaying ends", now);
    }
    return;
  }
  if (!owesData()) {
    owedSinceNs_ = 0;
    return;
  }
  if (owedSinceNs_ == 0) owedSinceNs_ = now;
  const uint64_t quietNs = now - std::max(evidence, owedSinceNs_);
  if (quietNs < kCutFactor * opt_.probe.downUs * 1000) return;
  relaySinceNs_ = now;
  const bool wasOpen = assisting_;
  relaying_ = true;
  assisting_ = false;  // (the cut takes every chunk; slowness is judged again after it)
  slowSinceNs_ = recoveredSinceNs_ = 0;
  markRelay(wasOpen, "no path shows life for " + std::to_string(quietNs / 1000000) + " ms: link cut, relaying", now);
  // Every path is down (they come back as probes get through); what they
  // hold goes through relays too (their acks, should they come, still
  // count) once pumpRelay finds one usable.
  relayUsable_ = false;
  for (Path& p : paths_) {
    if (!p.dead && p.health.state() != probe::PathState::kDown) p.health.onError(now, "link cut");
  }
}

double Link::capacityBytesPerUs() const {
  double sum = 0;
  for (const Path& p : paths_) {
    if (!p.dead && p.health.state() != probe::PathState::kDown) sum += p.health.capacityBps() / 1e6;
  }
  return sum;
}

bool Link::peerHolds(const Path& path, uint64_t now) const {
  if (path.inflight.empty()) return false;
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (getsockopt(path.desc.fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
      len >= offsetof(tcp_info, tcpi_snd_wnd) + sizeof ti.tcpi_snd_wnd) {
    // The peer has not made room for another chunk (its process reads
    // late), whatever the network could carry.
    if (ti.tcpi_snd_wnd < kChunkBytes) return true;
    // Or our bytes travel, nothing is lost, and its kernel has sent no ACK
    // for kPeerQuietMs: it delays them while its process reads nothing
    // (up to 40 ms and more). Over a slow network ACKs come with every
    // few packets that get through.
    if (ti.tcpi_unacked > 0 && ti.tcpi_retransmits == 0 && ti.tcpi_backoff == 0 &&
        ti.tcpi_last_ack_recv >= kPeerQuietMs) {
      return true;
    }
  }
  // Or everything written is in the peer's kernel (nothing of ours waits
  // in the network) and its process has acknowledged nothing for downUs,
  // or half the path's queue beyond the oldest frame not acknowledged is
  // there: it gathers what its process does not read. (Over a slow
  // network the bytes queue on the way, and the peer reads each frame as
  // it comes.)
  const uint64_t delivered = deliveredBytes(path);
  return (delivered >= path.wireBytes && now - path.lastAckNs >= opt_.probe.downUs * 1000) ||
         path.inflight.front().wireEnd + opt_.pathCapBytes / 2 <= delivered;
}

void Link::judgeSlow(uint64_t now) {
  if (!opt_.reroute || router_ == nullptr || opt_.probe.relaySlowPct <= 0 || relaying_) return;
  if (now - lastSlowCheckNs_ < kSlowCheckNs) return;
  lastSlowCheckNs_ = now;
  fillEstimates(now);
  // What the paths carry now (their capacity, bounded by silence and by
  // the sample under way; judged down or not: a slow path under load
  // often is, and still carries its share), and at best lately.
  double direct = 0;
  for (size_t i = 0; i < paths_.size(); ++i) {
    if (!paths_[i].dead && !paths_[i].nicDown) direct += std::max(est_[i].bytesPerUs, 0.0);
  }
  const double capacity = capacityBytesPerUs();
  if (!assisting_ && capacity > 0) {
    if (capacity >= peakBytesPerUs_ || now - peakAtNs_ > kSlowPeakNs) {
      peakBytesPerUs_ = capacity;
      peakAtNs_ = now;
    } else if (capacity >= peakBytesPerUs_ / 2) {
      peakAtNs_ = now;  // still near its best: the best still counts
    }
  }
  if (!owesData()) {
    slowSinceNs_ = recoveredSinceNs_ = 0;
    // Nothing sent for a while: the lane closes (it is judged afresh
    // with the next traffic, from the peak of before).
    if (assisting_ && now - lastOwedNs_ > kAssistIdleNs) {
      assisting_ = false;
      markRelay(true, "link idle: relaying beside the paths ends", now);
    }
    return;
  }
  lastOwedNs_ = now;
  if (direct <= 0) return;
  // Against its share of its best lately (the rank's other links busy now
  // share the NICs with it: an alltoall sends to every peer at once), or
  // what a link of this rank carries now, whichever is more.
  const double reference = std::max(peakBytesPerUs_ / router_->busyLinks(now), router_->bestLinkBytesPerUs(now));
  const double slowBelow = reference * opt_.probe.relaySlowPct / 100.0;
  const uint64_t holdNs = kCutFactor * opt_.probe.downUs * 1000;
  if (assisting_) {
    // No relay to take chunks (the others are cut or slow themselves):
    // the lane closes, and this link may serve as a relay again.
    if (!relayUsable_) {
      assisting_ = false;
      slowSinceNs_ = recoveredSinceNs_ = 0;
      markRelay(true, "no relay available: relaying beside the paths ends", now);
      return;
    }
    // Back above twice the threshold for as long as it took to open: the
    // paths carry it alone again.
    if (direct < 2 * slowBelow) {
      recoveredSinceNs_ = 0;
      return;
    }
    if (recoveredSinceNs_ == 0) recoveredSinceNs_ = now;
    if (now - recoveredSinceNs_ < holdNs) return;
    assisting_ = false;
    slowSinceNs_ = recoveredSinceNs_ = 0;
    markRelay(true, "paths carry " + std::to_string(static_cast<int>(direct)) + " MB/s again: relaying beside them ends", now);
    return;
  }
  bool peerBound = false;
  if (direct < slowBelow) {
    // A peer that reads slowly (busy, descheduled) slows every path as
    // much; a third host would not help it.
    for (const Path& p : paths_) peerBound = peerBound || (!p.dead && peerHolds(p, now));
  }
  if (direct >= slowBelow || peerBound) {
    slowSinceNs_ = 0;
    return;
  }
  if (slowSinceNs_ == 0) {
    slowSinceNs_ = now;
    slowCpuKnown_ = cpuWaitUs(&slowCpuWaitUs_);
  }
  if (now - slowSinceNs_ < holdNs) return;
  // (Only with a relay to go to: an assisted link serves as no one's relay,
  // and a link carrying a cut link's relayed frames looks slow to itself.)
  if (router_->pickRelay(peer_, [](int) { return false; }) < 0) return;
  // Short of CPU rather than of network (more ranks than cores, another
  // job): every link crawls alike and a relay adds work on three hosts.
  uint64_t waitedUs = 0;
  std::string cpu;
  if (slowCpuKnown_ && now > slowSinceNs_ && cpuWaitUs(&waitedUs) && waitedUs >= slowCpuWaitUs_) {
    const int pct = static_cast<int>(std::min(
        100.0, 100.0 * static_cast<double>(waitedUs - slowCpuWaitUs_) / (static_cast<double>(now - slowSinceNs_) / 1e3)));
    cpu = "; tasks waited for a CPU " + std::to_string(pct) + "% of that time";
    if (opt_.probe.relayCpuBoundPct < 100 && pct >= opt_.probe.relayCpuBoundPct) {
      ++cpuHeldBack_;
      // (Once a second for the whole process: short of CPU, every link is.)
      static std::atomic<uint64_t> loggedNs{0};
      uint64_t last = loggedNs.load(std::memory_order_relaxed);
      if (now - last >= kCpuBoundLogNs && loggedNs.compare_exchange_strong(last, now)) {
        MRD_LOG_INFO(kNet, "rank {} peer {} channel {}: every path slow ({} of {} MB/s{}): short of CPU, not relaying (MRD_PROBE_RELAY_CPU_PCT={})",
                     self_, peer_, channel_, static_cast<int>(direct), static_cast<int>(reference), cpu,
                     opt_.probe.relayCpuBoundPct);
      }
      slowSinceNs_ = 0;  // judged afresh
      return;
    }
  }
  assisting_ = true;
  recoveredSinceNs_ = 0;
  relayBytesPerUs_ = 0;  // measured afresh
  relayBaseRttUs_ = 0;
  markRelay(false, "every path slow (" + std::to_string(static_cast<int>(direct)) + " of " +
                       std::to_string(static_cast<int>(reference)) + " MB/s" + cpu + "): relaying beside them", now);
}

bool Link::cpuWaitUs(uint64_t* us) const {
  return opt_.probe.cpuWaitUs ? opt_.probe.cpuWaitUs(us) : readCpuWaitUs(us);
}

bool Link::owesData() const {
  for (const OutMsg& m : out_) {
    if (m.ackedCount < m.chunk.size()) return true;
  }
  return false;
}

PathEstimate Link::relayLaneEstimate(uint64_t now) const {
  PathEstimate e;
  e.usable = relayUsable_;
  e.bytesPerUs = relayBytesPerUs_;
  // Silence bounds it as it bounds a path (a relay busy elsewhere).
  const uint64_t since = std::max(relayLastAckNs_, relayRateStartNs_);
  if (!relayInflight_.empty() && e.bytesPerUs > 0 && now > since) {
    e.bytesPerUs = std::min(e.bytesPerUs, kSilenceChunks * kChunkBytes / (static_cast<double>(now - since) / 1e3));
  }
  // Two hops: twice the best path's round trip until measured.
  double rtt = relayBaseRttUs_;
  if (rtt <= 0) {
    for (const PathEstimate& p : est_) {
      if (p.usable && p.rttUs > 0) rtt = rtt <= 0 ? 2 * p.rttUs : std::min(rtt, 2 * p.rttUs);
    }
  }
  e.rttUs = rtt;
  e.queuedBytes = relayInflightBytes_;
  e.capBytes = kRelayWindowBytes;
  return e;
}

int Link::pickLane(size_t bytes, uint64_t now) {
  if (!(assisting_ && relayUsable_)) return pickPath(est_, bytes, opt_.fallbackBytesPerUs);
  lanes_.assign(est_.begin(), est_.end());
  lanes_.push_back(relayLaneEstimate(now));
  return pickPath(lanes_, bytes, opt_.fallbackBytesPerUs);
}

void Link::pumpRelay(uint64_t now, bool* moved) {
  // Chunks whose acks are overdue go again (through another relay, if
  // there is one: a lone relay is never avoided, or the chunks would wait
  // on the cut paths meanwhile).
  const uint64_t timeoutNs =
      std::max<uint64_t>(kRelayTimeoutFloorNs, static_cast<uint64_t>(4 * relayRttUs_ * 1e3));
  bool again = false;
  while (!relayInflight_.empty() && now - relayInflight_.front().sentNs >= timeoutNs) {
    const RelayInflight f = relayInflight_.front();
    relayInflight_.pop_front();
    relayInflightBytes_ -= f.len;
    OutMsg* m = outMsg(f.seq);
    if (m == nullptr || m->chunk[f.chunk] == kAcked) continue;
    resend_.push_back(Resend{f.seq, f.chunk});
    if (router_ != nullptr && router_->pickRelay(peer_, [&](int r) { return r == f.via; }) >= 0) {
      relayAvoidUntilNs_[f.via] = now + kRelayAvoidNs;
    }
    ++relayResends_;
    again = true;
  }
  if (again) {
    std::sort(resend_.begin(), resend_.end(), [](const Resend& a, const Resend& b) {
      return a.seq != b.seq ? a.seq < b.seq : a.chunk < b.chunk;
    });
  }
  if (!(relaying_ || assisting_) || router_ == nullptr) {
    relayUsable_ = false;
    return;
  }
  auto avoid = [&](int r) {
    auto it = relayAvoidUntilNs_.find(r);
    return it != relayAvoidUntilNs_.end() && it->second > now;
  };
  // (With no relay left, the paths carry the chunks, cut or not; once one
  // is back, what they hold goes through it too.)
  const bool wasUsable = relayUsable_;
  relayUsable_ = router_->pickRelay(peer_, avoid) >= 0;
  if (relaying_ && relayUsable_ && !wasUsable) {
    for (Path& p : paths_) requeueInflight(p);
  }
  const auto lane = static_cast<int>(paths_.size());
  while (relayUsable_ && relayInflightBytes_ < kRelayWindowBytes) {
    uint64_t seq = 0;
    uint32_t chunk = 0;
    bool resent = false;
    if (!peekChunk(&seq, &chunk, &resent)) break;
    OutMsg* m = outMsg(seq);
    const uint32_t len = chunkLen(m->bytes, chunk);
    // Beside slow paths: only the chunks the relay lane delivers soonest.
    if (!relaying_) {
      fillEstimates(now);
      if (pickLane(len, now) != lane) break;
    }
    const int via = router_->pickRelay(peer_, avoid);
    Link* hop = router_->linkTo(via);
    if (hop == nullptr) break;
    takeChunk(seq, resent);
    const Frame inner{kFrameData, len, seq, static_cast<uint64_t>(chunk) * kChunkBytes, m->bytes, m->tag};
    std::vector<char> body = takeFrom(&copyPool_);
    body.resize(sizeof(Frame) + len);
    std::memcpy(body.data(), &inner, sizeof inner);
    if (len > 0) std::memcpy(body.data() + sizeof(Frame), m->data + inner.offset, len);
    const Frame outer{kFrameRelay, static_cast<uint32_t>(body.size()), static_cast<uint64_t>(peer_),
                      static_cast<uint64_t>(self_), 0, 0};
    hop->queueRelayFrame(outer, std::move(body));
    if (relayInflight_.empty()) {
      relayRateStartNs_ = now;  // a busy stretch begins: a goodput sample with it
      relayRateBytes_ = 0;
    }
    relayInflight_.push_back(RelayInflight{seq, chunk, len, via, now, resent});
    relayInflightBytes_ += len;
    // Handed on: an eager send may report done (the relays and the
    // destination move it on from here, in operations or not).
    if (m->chunk[chunk] == kUnsent) {
      m->chunk[chunk] = kWritten;
      ++m->writtenCount;
    }
    lastRelayVia_ = via;
    *moved = true;
    ++relayChunks_;
    relayBytesSent_ += len;
  }
}

bool Link::relayOwed() const {
  if (!relayOut_.empty() || !relayInflight_.empty()) return true;
  for (const Path& p : paths_) {
    if (p.dead) continue;
    // A relayed frame half written, or half read.
    if ((p.curActive && p.cur.kind == kFrameRelay) || p.dest == Dest::kRelay) return true;
  }
  return false;
}

void drainRelays(const std::vector<Link*>& links, uint64_t deadlineNs) {
  std::vector<bool> failed(links.size(), false);
  while (monotonicNs() < deadlineNs) {
    bool moved = false, owed = false;
    for (size_t i = 0; i < links.size(); ++i) {
      if (failed[i]) continue;
      if (!links[i]->progress(&moved).isOk()) {
        failed[i] = true;
        continue;
      }
      owed = owed || links[i]->relayOwed();
    }
    if (!owed && !moved) return;
    if (moved) continue;
    std::vector<pollfd> fds;
    for (size_t i = 0; i < links.size(); ++i) {
      if (!failed[i]) links[i]->addPollFds(&fds);
    }
    if (fds.empty()) return;
    poll(fds.data(), fds.size(), 1);
  }
}

}  // namespace mrd::link
