// Is the peer still there? A killed process is seen at once (its kernel
// closes the sockets, and a peer that fails says why: kFrameGoodbye), but
// a host that is gone (powered off, its kernel hung, every cable cut)
// answers nothing, and a link would wait out MRD_TIMEOUT_MS. While a link
// waits on its peer, each path asks its kernel (TCP_INFO) whether the
// peer's kernel acknowledges our bytes; a live peer's kernel does so
// whatever its process is doing (computing, descheduled, in another
// communicator), or shuts its window. No path and no relay showing life
// for MRD_PROBE_PEER_LOST_MS fails the link, naming the peer.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <string>

#include "link/link.h"
#include "log/log.h"

namespace mrd::link {
namespace {

// The kernel is asked this many times per MRD_PROBE_PEER_LOST_MS (and at
// most every kLifeCheckFloorNs): a silence is judged within 1/kLifeChecks
// of the bound.
constexpr uint64_t kLifeChecks = 16;
constexpr uint64_t kLifeCheckFloorNs = 5'000'000;
// A pause between operations longer than this many checks ends the watch.
constexpr uint64_t kWatchGapChecks = 2;

}  // namespace

bool Link::waitsOnPeer() const { return !in_.empty() || waitingSends(); }

uint64_t Link::lifeCheckEveryNs() const {
  return std::max(opt_.probe.peerLostUs * 1000 / kLifeChecks, kLifeCheckFloorNs);
}

bool Link::watchLife(uint64_t now) {
  if (opt_.probe.peerLostUs == 0) return false;
  if (waitsOnPeer()) {
    lastWaitNs_ = now;
    if (lostWatchSinceNs_ == 0) lostWatchSinceNs_ = now;
    return true;
  }
  // Operations back to back are one watch: the kernel's word carries over
  // the gap between them. After a longer pause (the user computing)
  // nothing was asked of the peer: the next wait starts afresh.
  if (lostWatchSinceNs_ != 0 && now - lastWaitNs_ > kWatchGapChecks * lifeCheckEveryNs()) lostWatchSinceNs_ = 0;
  return lostWatchSinceNs_ != 0;
}

void Link::checkLife(Path& path, uint64_t now) {
  if (now - path.lifeCheckNs < lifeCheckEveryNs()) return;
  path.lifeCheckNs = now;
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (getsockopt(path.desc.fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
      len < offsetof(tcp_info, tcpi_notsent_bytes) + sizeof ti.tcpi_notsent_bytes) {
    path.lifeNs = now;  // the kernel says nothing: no judgement on this path
    return;
  }
  // When the peer's kernel last sent anything (every segment carries an
  // ACK; ms, in jiffies). Not when we read it: bytes that arrived before
  // the host went away may be read long after.
  const uint64_t heardAgoNs = static_cast<uint64_t>(std::min(ti.tcpi_last_ack_recv, ti.tcpi_last_data_recv)) * 1'000'000;
  if (heardAgoNs < now) path.lifeNs = std::max(path.lifeNs, now - heardAgoNs);
  // Nothing of ours in flight: the peer's kernel owes no answer, and its
  // silence says nothing. Either all is acknowledged (the link may not
  // have been moved for a while, its operation busy elsewhere), or what
  // waits in our socket is held by the peer's window, shut or too small
  // for a segment (its process reads slowly): its kernel said so, and
  // answers the window probes, further and further apart (TCP's back-off).
  // (Not over a local NIC that is down: nothing leaves, so nothing is in
  // flight.)
  if (ti.tcpi_unacked == 0 && !path.nicDown) {
    path.lifeNs = now;
    // The question, when nothing is queued: a repeat of the last
    // cumulative ack (the peer ignores it), the smallest frame, which
    // does not disturb the probe's one-ping rule. Unanswered by the next
    // check, the silence counts from here.
    if (ti.tcpi_notsent_bytes == 0 && !path.curActive && !path.ctrlPending()) {
      path.ctrl.push(Frame{kFrameAck, 0, 0, 0, 0, path.ackQueued});
    }
  }
}

Status Link::judgeLost(uint64_t now) {
  if (lostWatchSinceNs_ == 0 || !waitsOnPeer()) return Status::ok();
  // Cut and relaying: the paths' silence is the cut's, and the peer is
  // judged by the acks of the chunks relayed to it (none in flight, as
  // when only waiting to receive: no judgement; the relays' own links to
  // it judge it then).
  if (relaying_ && relayInflight_.empty()) lostWatchSinceNs_ = now;
  uint64_t life = std::max(lostWatchSinceNs_, relayLifeNs_);
  bool anyLive = false;
  for (const Path& p : paths_) {
    if (p.dead) continue;
    anyLive = true;
    life = std::max(life, p.lifeNs);
  }
  // (With every path dead the link has failed already, or owes nothing.)
  if (!anyLive || now < life || now - life < opt_.probe.peerLostUs * 1000) return Status::ok();
  const uint64_t quietMs = (now - life) / 1'000'000;
  std::string paths;
  bool allNicsDown = true;
  for (size_t i = 0; i < paths_.size(); ++i) {
    const Path& p = paths_[i];
    if (p.dead) continue;
    allNicsDown = allNicsDown && p.nicDown;
    if (!paths.empty()) paths += "; ";
    paths += "path " + std::to_string(i) + " " + p.desc.localNic + " -> " + p.desc.remoteNic +
             (p.nicDown ? " (local NIC down)" : "");
  }
  std::string what = "no sign of life from rank " + std::to_string(peer_) + " for " + std::to_string(quietMs) +
                     " ms on any path (" + paths + "): its kernel sent nothing, our bytes outstanding" +
                     (relaying_ ? ", nothing back through relays" : "") + "; " +
                     (allNicsDown ? "every local NIC of these paths is down"
                                  : "its host, or every network path to it, is gone") +
                     " (MRD_PROBE_PEER_LOST_MS=" + std::to_string(opt_.probe.peerLostUs / 1000) + ")";
  MRD_LOG_WARN(kNet, "rank {} peer {} channel {}: {}", self_, peer_, channel_, what);
  for (size_t i = 0; i < paths_.size(); ++i) {
    const Path& p = paths_[i];
    const auto ago = [now](uint64_t t) { return t == 0 ? -1.0 : static_cast<double>(now - t) / 1e6; };
    MRD_LOG_INFO(kNet, "rank {} peer {} path {}: last sign of life {:.1f} ms ago, last read {:.1f} ms ago; watched for {:.1f} ms, relayed chunk {:.1f} ms ago",
                 self_, peer_, i, ago(p.lifeNs), ago(p.lastRxNs), ago(lostWatchSinceNs_), ago(relayLifeNs_));
  }
  return remoteError("rank " + std::to_string(self_) + " <-> peer " + std::to_string(peer_) + " (tcp, channel " +
                     std::to_string(channel_) + "): " + what);
}

}  // namespace mrd::link
