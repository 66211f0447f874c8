// A link: everything that connects this rank to one peer on one channel,
// as one transport::Connection over several paths (one per rail, i.e. per
// matched pair of NICs, and per socket on it).
//
// Messages are cut into chunks (frame.h). The sender hands each chunk to
// the path that would deliver it soonest (path_scheduler.h, from the
// capacity, RTT and queue of each path), so a slow path carries a small
// share and a down one none. The receiver acknowledges data frames per
// path; a chunk on a path that fails or stalls is sent again on another,
// an idle path takes over the oldest chunk of one that went silent, and
// the receiver drops the copy it already has; chunks of receives not
// posted yet are read aside (up to kStageBudget) so acks are not blocked. A send completes when
// every chunk is acknowledged, except small ones (up to kEagerBytes), which
// are copied and complete at once. Each path's health (probe/path_health.h)
// comes from pings, acknowledgements and socket errors.
//
// When every path shows no sign of life (nothing read, nothing of ours
// acknowledged by the peer's kernel) for kCutFactor x MRD_PROBE_DOWN_US
// while the link owes data, the link is cut: its chunks go through a rank
// on a third host instead (relay_router.h, link_relay.cc) until a path
// shows life again. When every path is alive but slow (together below
// MRD_PROBE_RELAY_SLOW_PCT of what the link carried lately, the network
// and not the peer holding the data), the relay lane opens beside them
// and each chunk takes the lane that delivers it soonest.
//
// MRD_REROUTE=0 turns all of that into static striping: chunk i goes to
// path i mod n whatever its state, nothing is re-sent (the baseline the
// re-routing is measured against).
#pragma once

#include <poll.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/ring_queue.h"
#include "link/frame.h"
#include "link/path_scheduler.h"
#include "probe/path_health.h"
#include "probe/probe_config.h"
#include "transport/transport.h"

namespace mrd::probe {
class ProbeLog;
}

namespace mrd::link {

class NicWatch;
class RelayRouter;

constexpr size_t kEagerBytes = 64 << 10;     // sends up to this size complete at once
// Copied bytes awaiting acks, per link: below the socket buffers, so a rank
// that leaves an operation early (its sends done) never leaves the peer's
// acknowledgements stuck behind its own unread data.
constexpr size_t kEagerBudget = 1 << 20;

struct PathDesc {
  int fd = -1;
  int rail = 0;               // index of the local NIC
  std::string ifname;         // the local NIC's interface name (NicWatch), or empty
  std::string localNic, remoteNic;  // "eth0 10.1.0.5", for logs and stats
};

struct LinkOptions {
  bool reroute = true;                 // MRD_REROUTE
  probe::ProbeConfig probe;
  // Unacknowledged bytes per path (MRD_PATH_QUEUE_BYTES): a chunk waits for
  // room rather than queue behind more. Every byte more than a round trip
  // and the peer's pauses need is a queue that a chunk needed elsewhere
  // waits behind when the path slows. On 2 Gbit/s rails (2 hosts x 1 rank,
  // 16 MiB allreduce) 512 KiB gave two rails 1.98-1.99x one rail's busbw
  // instead of 1.85-1.87x with 2 MiB, and moved a slowed rail's traffic
  // sooner. (It first exposed two stalls, both mended: a full path whose
  // frames had all gone again elsewhere kept its old rate, and acks left
  // only on a path stuck in TCP back-off; see fillEstimates, ackOnEveryPath.)
  size_t pathCapBytes = 512 << 10;
  double fallbackBytesPerUs = 1000;    // assumed goodput before any measurement
  std::shared_ptr<probe::ProbeLog> log;  // MRD_PROBE_LOG, or none
  // The kernel's word on the local NICs (shared by a communicator's links),
  // or none: a path whose NIC goes down is down at once, and the peer told.
  std::shared_ptr<NicWatch> nics;
};

// What mrdCommGetLinkStats reports per path. The relay lane (chunks sent
// through other ranks while the link was cut, or beside its slow paths)
// is reported as one more "path" with rail -1.
struct PathStats {
  int rail = 0;
  std::string localNic, remoteNic;
  probe::PathState state = probe::PathState::kHealthy;
  double rttP50Us = 0, rttP99Us = 0, goodputBps = 0;
  uint64_t bytesSent = 0, chunksSent = 0, resends = 0, bytesReceived = 0;
  std::vector<probe::Transition> transitions;
};

class Link : public transport::Connection {
 public:
  Link(int peer, int self, int channel, std::vector<PathDesc> paths, const LinkOptions& opt);
  ~Link() override;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  int peer() const override { return peer_; }
  Status postSend(transport::Request* r) override;
  Status postRecv(transport::Request* r) override;
  Status progress(bool* moved) override;
  Status probe() override;
  transport::ProbeSample lastProbe() const override { return probe_; }
  void addPollFds(std::vector<pollfd>* fds) const override;
  int64_t timerDueUs() const override;
  std::string describeState() const override;
  Status flush(bool* idle) override;
  void closeBy(uint64_t deadlineNs) override { closeByNs_ = deadlineNs; }

  // Makes the peer fail fast (abort): shuts every socket down.
  void shutdownAll();
  // This rank gave up on the communicator for `why`: a goodbye frame with
  // it on every live path (after the rest of a frame begun, if the socket
  // takes it now; never blocks), before the transport shuts the sockets.
  // The paths carry nothing more.
  void sendFailure(const std::string& why) override;
  size_t pathCount() const { return paths_.size(); }
  void stats(std::vector<PathStats>* out) const;

  // ---- relaying (relay_router.h; link_relay.cc) ----
  // Registers with the router (nullptr: no relaying; done before the
  // router or any other link goes away).
  void setRouter(RelayRouter* router);
  // Every path is cut: this link's chunks go through relays.
  bool cut() const { return relaying_; }
  // Every path is slow: the relay lane carries chunks beside them.
  bool assisted() const { return assisting_; }
  // How often every path looked slow but the lane stayed shut, the tasks
  // having waited for a CPU (MRD_PROBE_RELAY_CPU_PCT).
  uint64_t cpuHeldBack() const { return cpuHeldBack_; }
  // A send waits for acks.
  bool owesData() const;
  // What the live paths carried at best lately (sum of their capacities),
  // bytes per us; 0: not measured.
  double capacityBytesPerUs() const;
  // Bytes of other ranks' frames waiting here to be passed on.
  size_t relayQueuedBytes() const { return relayOutBytes_; }
  // Relaying still to finish: frames to pass on, or chunks of ours sent
  // through relays and not yet acknowledged.
  bool relayOwed() const;
  // A relayed frame for this link's peer (the destination, or the next
  // hop): written on the quickest live path. Dropped when more than
  // kRelayQueueBudget waits already (its sender sends it again).
  void queueRelayFrame(const Frame& hdr, std::vector<char> body);
  // A control frame (a relay ack) for this link's peer, likewise.
  void queueRelayControl(const Frame& f);
  // A chunk this link's peer sent through rank `via`: placed like a chunk
  // from a path, then acknowledged back through `via`.
  Status deliverRelayed(const Frame& inner, const char* data, size_t len, int via);
  // The destination has the relayed chunk (seq, chunk).
  void onRelayAck(uint64_t seq, uint64_t chunk, uint64_t now);

 private:
  // ---- sending ----
  struct OutMsg {
    transport::Request* req = nullptr;  // not touched once reported done
    uint64_t seq = 0;
    uint64_t bytes = 0, tag = 0;
    bool eager = false;
    bool reported = false;
    const char* data = nullptr;     // the user's buffer, or `copy`
    std::vector<char> copy;         // eager sends
    std::vector<uint8_t> chunk;     // per chunk: kUnsent, kWritten (to a socket), kAcked
    size_t writtenCount = 0, ackedCount = 0;
    size_t nextFresh = 0;           // chunks below this were handed out at least once
  };
  enum : uint8_t { kUnsent = 0, kWritten = 1, kAcked = 2 };
  struct Inflight {  // a data frame handed to a path, awaiting its ack
    uint64_t seq;
    uint32_t chunk;
    uint32_t len;
    bool requeued;   // also handed to another path since; its ack still counts
    uint64_t wireEnd;  // the path's byte stream up to the end of this frame
  };
  struct Resend {
    uint64_t seq;
    uint32_t chunk;
  };
  // ---- receiving ----
  enum : uint8_t { kMissing = 0, kDone = 1, kReading = 2 };  // kReading + path index
  struct InMsg {
    transport::Request* req = nullptr;
    uint64_t seq = 0;
    std::vector<uint8_t> chunk;     // kMissing, kDone, or kReading + path
    size_t doneCount = 0;
  };
  enum class Dest { kUser, kScratch, kSink, kStage, kRelay, kGoodbye };

  struct Path {
    PathDesc desc;
    probe::PathHealth health;
    bool dead = false;              // the socket failed: nothing more on it
    bool nicDown = false;           // its local NIC is down (NicWatch): no use waiting for it
    // Sending: the frame being written, control frames waiting, data frames awaiting acks.
    Frame cur{};
    const char* curPayload = nullptr;
    size_t curDone = 0;             // header + payload bytes written
    bool curActive = false;
    std::vector<char> curCopy;      // payload of a frame finished after a stall
    RingQueue<Frame> ctrl;
    // Control frames taken from ctrl, written together ahead of the next
    // frame, and how much of them is written. Bytes left here come before
    // any of cur's on the wire.
    std::vector<char> ctrlOut;
    size_t ctrlOutDone = 0;
    bool ctrlPending() const { return !ctrl.empty() || ctrlOutDone < ctrlOut.size(); }
    std::deque<Inflight> inflight;  // every data frame not yet acknowledged, in order
    size_t inflightBytes = 0;       // of those not requeued
    size_t unackedBytes = 0;        // of all of them: what is ahead on the wire
    size_t waiting = 0;             // frames not requeued
    uint64_t framesSent = 0;        // data frames handed out (ack numbering)
    uint64_t framesAcked = 0;
    uint64_t lastAckNs = 0;
    uint64_t lastAckRecvNs = 0;     // when an ack for this path last arrived (on any path)
    uint64_t rateStartNs = 0;       // the goodput sample being gathered: since when
    uint64_t rateBytes = 0;         // and its bytes acknowledged so far
    // Receiving.
    Frame in{};
    size_t inHdrGot = 0;
    size_t inGot = 0;
    Dest dest = Dest::kSink;
    char* destPtr = nullptr;
    uint64_t rxFrames = 0, ackQueued = 0;
    bool ackUrgent = false;         // a sender waits for it (a message above kEagerBytes)
    uint64_t firstUnackedRxNs = 0;  // when the oldest frame not yet acknowledged arrived
    std::vector<char> scratch;
    std::vector<char> stageBuf;     // Dest::kStage: the chunk of a message not posted yet
    std::vector<char> relayBuf;     // Dest::kRelay: a frame to pass on or deliver
    // The stream read ahead of the frame being parsed (rx[rxBegin, rxEnd)):
    // a small frame's header and payload, and the acks around it, come in
    // one recv() rather than one each.
    std::vector<char> rx;
    size_t rxBegin = 0, rxEnd = 0;
    bool rxDry = false;             // this round's last recv() came back short
    bool rxBulk = false;            // the last data frame was large: read the next one's header alone
    bool eof = false;
    // Stats.
    uint64_t bytesSent = 0, chunksSent = 0, resends = 0, bytesReceived = 0;
    uint64_t lastLogNs = 0;
    uint64_t pingSentNs = 0;        // the unanswered probe's time (0: none)
    // The kernel's view, to tell a dead network from a slow peer.
    uint64_t lastTcpCheckNs = 0;
    uint64_t tcpBytesAcked = 0;
    uint64_t tcpAckedChangeNs = 0;
    uint64_t netAliveNs = 0;        // when TCP_INFO last showed the network moving
    uint64_t rtoNs = 0;             // the kernel's retransmit bound: srtt + 4 rttvar (0: unknown)
    uint64_t wireBytes = 0;         // bytes written to the socket, all frames
    uint64_t lastRxNs = 0;          // when bytes were last read from the socket
    // Liveness (link_liveness.cc): the last sign of life (the peer's
    // kernel heard from, per TCP_INFO, or nothing of ours in flight), and
    // when the kernel was last asked.
    uint64_t lifeNs = 0, lifeCheckNs = 0;
  };

  Status pathError(size_t p, const std::string& what);
  Status failPath(size_t p, const std::string& why, uint64_t now);
  void requeueInflight(Path& path);
  bool nextChunkFor(size_t p, uint64_t now, Frame* f, const char** payload);
  // The chunk to send next: one to send again, else the first not handed
  // out yet; false: none. takeChunk() then marks it handed out.
  bool peekChunk(uint64_t* seq, uint32_t* chunk, bool* again);
  void takeChunk(uint64_t seq, bool again);
  OutMsg* outMsg(uint64_t seq);
  InMsg* inMsg(uint64_t seq);
  Status progressSend(size_t p, uint64_t now, bool* moved, bool startNew = true);
  Status progressRecv(size_t p, uint64_t now, bool* moved);
  // Up to `want` bytes of path p's stream into `to`, read-ahead bytes
  // first; returns as recv() does (-1 with errno EAGAIN once a read this
  // round came back short: the socket is most likely empty).
  ssize_t readStream(Path& path, char* to, size_t want);
  // A chunk of ours never sent yet waits for a path.
  bool freshDataToSend() const;
  // A live path holds frames not fully written (control frames, or the rest
  // of one begun).
  bool writesPending() const;
  Status beginData(size_t p);
  void finishData(size_t p);
  Status handleControl(size_t p, uint64_t now);
  void handleAck(size_t p, uint64_t count, uint64_t now);
  void completeSends();
  bool waitingSends() const;
  void detachFrames(uint64_t seq);  // frames being written of message seq: onto their own copy
  void detachCur(Path& path);
  bool allDeadWhileNeeded();
  void completeRecvs();
  // A chunk of a message whose receive is not posted yet is read aside
  // (up to kStageBudget per link) rather than left in the socket, where it
  // would block what follows it on the path: acks and pongs the peer
  // needs to finish the very operation that will post the receive.
  Status stageFrame(size_t p, bool* staged);
  void keepStaged(size_t p);
  Status applyStaged();
  void fillEstimates(uint64_t now);
  bool hedgeFrom(size_t idlePath, uint64_t now);
  // The smallest positive `metricUs` of the live (not dead, not down)
  // paths other than `except`, in ns; 0: none has one.
  uint64_t bestLiveNs(double (probe::PathHealth::*metricUs)() const, size_t except = SIZE_MAX) const;
  void checkNetworkProgress(Path& path, uint64_t now);
  // Liveness (link_liveness.cc). checkLife asks the kernel about one path
  // (rate-limited) while the link waits on its peer, and keeps a few bytes
  // of ours outstanding so the answer means something; judgeLost fails the
  // link once no path and no relay has shown life for peerLostUs.
  // watchLife says whether the paths are watched this round (the link
  // waits on its peer, or did a moment ago).
  bool watchLife(uint64_t now);
  void checkLife(Path& path, uint64_t now);
  Status judgeLost(uint64_t now);
  bool waitsOnPeer() const;
  uint64_t lifeCheckEveryNs() const;
  // How long the kernel may go without acknowledging our bytes on `path`
  // before it counts as silent: the smallest retransmit bound of the
  // other live paths (queues on a loaded rail delay every ack by a round
  // trip; a dead path's own bound would stretch with the fault), at least
  // half the stall time.
  uint64_t ackGapNs(const Path& path) const;
  // Bytes of the path's stream the peer's kernel has: what it received,
  // whether or not the peer has read it yet. 0 when the socket says nothing.
  uint64_t deliveredBytes(const Path& path) const;
  void onTransition(size_t p, const probe::Transition& t);
  // The NicWatch saw a change: paths over a NIC that went down are down
  // now, their chunks go elsewhere, and the peer hears of it.
  void checkNics(uint64_t now);
  void queueAck(size_t p, uint64_t now, bool force);
  // A message its sender waits on (above kEagerBytes) is complete: every
  // path's cumulative ack goes on its own path and on every other live
  // one. This rank may now turn to other work and read this link no more
  // for a while; an ack that went only on a path stuck in TCP back-off
  // would hold the sender (and whoever waits on it) until it clears.
  void ackOnEveryPath(uint64_t now);
  // Relaying (link_relay.cc).
  void judgeCut(uint64_t now);
  // Opens or closes the relay lane beside slow paths (assisting_).
  void judgeSlow(uint64_t now);
  // The relay lane's state changed (relaying_ / assisting_ set already):
  // a transition in the stats and the probe log.
  void markRelay(bool wasOpen, const std::string& why, uint64_t now);
  bool cpuWaitUs(uint64_t* us) const;  // opt_.probe.cpuWaitUs, or the kernel's
  // The path (or, assisting, paths_.size(): the relay lane) a chunk of
  // `bytes` goes to next; -1: it waits. fillEstimates() first.
  int pickLane(size_t bytes, uint64_t now);
  PathEstimate relayLaneEstimate(uint64_t now) const;
  // The peer, not the network, is what the path's data waits for: its
  // window is shut, its kernel holds back ACKs for a process that reads
  // nothing, or has all or much of the data unread (TCP_INFO, SIOCOUTQ).
  bool peerHolds(const Path& path, uint64_t now) const;
  void pumpRelay(uint64_t now, bool* moved);
  bool takeRelayFrame(size_t p);             // onto the path's current frame, if one waits
  Status finishRelayFrame(size_t p);         // one read from path p: deliver or pass on
  Status handleRelayAck(size_t p, uint64_t now);
  size_t quickestPath() const;               // live path with the shortest queue; SIZE_MAX: none
  Status relayError(const std::string& what) const;
  // The path a copy of the ack for path p's frames goes on; p: no copy
  // (see queueAck).
  size_t ackPath(size_t p) const;
  // How long a frame queued on the path now waits behind the data before
  // it (unacknowledged bytes over the path's goodput), ns.
  uint64_t queueAheadNs(const Path& path) const;

  int peer_, self_, channel_;
  LinkOptions opt_;
  std::vector<Path> paths_;
  std::vector<PathEstimate> est_;
  std::deque<OutMsg> out_;
  uint64_t outBase_ = 0, nextSendSeq_ = 0;
  std::deque<Resend> resend_;
  size_t eagerBytes_ = 0;
  std::deque<InMsg> in_;
  uint64_t inBase_ = 0, nextRecvSeq_ = 0;
  std::vector<char> sink_;
  static constexpr size_t kStageBudget = 4 << 20;
  // The read-ahead: reads of less than half of it go through it (a 4 KiB
  // message and its header in one call); larger ones, and the headers of a
  // stream of large frames (their payloads would be copied once more),
  // straight to their place.
  static constexpr size_t kReadAhead = 16 << 10;
  struct Staged {
    uint64_t tag, msgBytes;
    std::vector<char> data;
  };
  std::map<std::pair<uint64_t, uint32_t>, Staged> staged_;  // (seq, chunk)
  size_t stagedBytes_ = 0;
  // Vectors of finished messages, reused so steady traffic allocates nothing.
  std::vector<std::vector<char>> copyPool_;
  std::vector<std::vector<uint8_t>> statePool_;
  template <typename T>
  static std::vector<T> takeFrom(std::vector<std::vector<T>>* pool) {
    if (pool->empty()) return {};
    std::vector<T> v = std::move(pool->back());
    pool->pop_back();
    return v;
  }
  template <typename T>
  static void giveBack(std::vector<std::vector<T>>* pool, std::vector<T>* v) {
    if (pool->size() < 64 && v->capacity() > 0) pool->push_back(std::move(*v));
  }
  transport::ProbeSample probe_{};
  uint64_t nicGeneration_ = 0;  // of opt_.nics when last checked
  bool ackEverywhere_ = false;  // completeRecvs() completed a message above kEagerBytes
  size_t stripe_ = 0;  // MRD_REROUTE=0: the next path
  Status lastFailure_;  // why the last path died
  // How long closing a link waits for the peer to acknowledge what it sent.
  static constexpr uint64_t kCloseDrainNs = 1'000'000'000;
  // And how long it reads, once done sending, until the peer's kernel has
  // it all (or the peer is done too).
  static constexpr uint64_t kCloseLingerNs = 1'000'000'000;
  uint64_t closeByNs_ = 0;  // closeBy(): neither wait goes past it (0: no such bound)
  // A chunk the peer's kernel has is not sent again elsewhere while its
  // path still moves, for this long at most after the path's last ack (a
  // chunk stuck behind one the peer cannot place yet needs the copy).
  static constexpr uint64_t kDeliveredPatienceNs = 50'000'000;
  // A probe unanswered this long no longer holds back the next one.
  static constexpr uint64_t kPingGiveUpNs = 1'000'000'000;
  // A path that owes acks and has been silent for S us is credited with at
  // most this many chunks per S (a path cut to a twentieth of its rate acks
  // a chunk a twentieth as often, long before its goodput samples say so).
  static constexpr double kSilenceChunks = 1;
  // A goodput sample spans at least this many acknowledged bytes.
  static constexpr uint64_t kRateSampleBytes = 256 << 10;
  // An idle path takes over the oldest chunk of a path silent for longer
  // than kHedgeFactor times its own time to deliver one, kHedgeRttFactor
  // of the link's best smoothed round trips (under load those include the
  // queues), and kHedgeFloorNs (below that, silence is the ack pace).
  static constexpr double kHedgeFactor = 4;
  static constexpr double kHedgeRttFactor = 4;
  static constexpr uint64_t kHedgeFloorNs = 1'000'000;
  // An ack leaves its own path only for one quicker by more than this.
  static constexpr uint64_t kAckDetourNs = 500'000;
  // Control frames written in one system call, at most (with the frame after them).
  static constexpr size_t kCtrlBatch = 64;
  // Liveness (link_liveness.cc).
  uint64_t lostWatchSinceNs_ = 0;  // since when the link watches its peer (watchLife; 0: it does not)
  uint64_t lastWaitNs_ = 0;        // when it last waited on its peer
  uint64_t relayLifeNs_ = 0;       // when a relayed chunk or ack from the peer last came
  // Between operations nothing reads the sockets: a probe read in the
  // first round after one measured this side's absence, not the network.
  bool away_ = false;          // an operation ended (flush) and none has progressed since
  bool backFromAway_ = false;  // this progress round is the first after such a stretch

  // ---- relaying ----
  struct RelayInflight {  // a chunk sent through a relay, awaiting the destination's ack
    uint64_t seq;
    uint32_t chunk;
    uint32_t len;
    int via;
    uint64_t sentNs;
    bool again;  // sent before (its ack may be for the earlier copy)
  };
  struct RelayOut {  // another rank's frame, to pass on to our peer
    Frame hdr;
    std::vector<char> body;
  };
  RelayRouter* router_ = nullptr;
  bool relayJoined_ = false;   // had a router: relayed frames while closing are dropped, not errors
  bool relaying_ = false;      // cut: chunks go through relays
  bool assisting_ = false;     // slow: the relay lane beside the paths
  uint64_t slowSinceNs_ = 0;   // since when every path has been slow (0: they are not)
  uint64_t slowCpuWaitUs_ = 0;  // the CPU wait (PSI) then ...
  bool slowCpuKnown_ = false;   // ... if the kernel tells it
  uint64_t cpuHeldBack_ = 0;    // lanes not opened: short of CPU
  uint64_t recoveredSinceNs_ = 0;  // assisting: since when the paths carry enough again
  uint64_t lastOwedNs_ = 0;    // when data was last owed (judgeSlow)
  uint64_t lastSlowCheckNs_ = 0;
  double peakBytesPerUs_ = 0;  // the paths' best summed capacity lately
  uint64_t peakAtNs_ = 0;      // when it was last seen (or nearly)
  std::vector<PathEstimate> lanes_;  // est_ and the relay lane (pickLane)
  // The relay lane's goodput (assisting): a sample spans kRateSampleBytes
  // of relay acks from the first chunk of a busy stretch.
  double relayBytesPerUs_ = 0;
  uint64_t relayRateStartNs_ = 0, relayRateBytes_ = 0, relayLastAckNs_ = 0;
  double relayBaseRttUs_ = 0;  // the smallest relayed chunk's round trip since the lane opened
  bool relayUsable_ = false;   // and some relay can take them (else the paths, cut or not)
  uint64_t relaySinceNs_ = 0;
  uint64_t owedSinceNs_ = 0;   // since when a send waits for acks (0: none)
  std::deque<RelayInflight> relayInflight_;
  size_t relayInflightBytes_ = 0;
  std::deque<RelayOut> relayOut_;
  size_t relayOutBytes_ = 0;
  std::map<int, uint64_t> relayAvoidUntilNs_;  // relays whose chunks went unacknowledged
  double relayRttUs_ = 0;      // EWMA of relayed chunks' send-to-ack times
  int lastRelayVia_ = -1;
  uint64_t relayBytesSent_ = 0, relayChunks_ = 0, relayResends_ = 0, relayBytesReceived_ = 0;
  uint64_t relayPassedBytes_ = 0, relayDropped_ = 0;
  std::vector<probe::Transition> relayTransitions_;  // healthy: relaying began; down: it ended
  // No sign of life on any path for this many times MRD_PROBE_DOWN_US
  // while a send waits: the link is cut. (A slow peer still has its
  // kernel acknowledge our bytes; a dead rail beside a live one is the
  // probe's business, and much quicker.) 25 (50 ms at the default): with
  // 10 (20 ms), the relay host of a 3-host cut, starved of CPU on 2 cores,
  // let its socket buffers fill for 20 ms, its link from rank 0 was judged
  // cut too, and rank 0 had no relay left: operations of 1.0-4.0 s in 4
  // of 6 runs of netns_3hosts_fault_cut_reroute1; with 50 ms none above
  // 233 ms in 8 (and 244 ms in 14 with MRD_PROBE_DOWN_US=5000 instead).
  static constexpr uint64_t kCutFactor = 25;
  // Relayed bytes awaiting the destination's acks, per link.
  static constexpr size_t kRelayWindowBytes = 2 << 20;
  // Other ranks' frames waiting here to be passed on, per link.
  static constexpr size_t kRelayQueueBudget = 16 << 20;
  // A relayed chunk is sent again after max(this, 4 x the relay's round
  // trip) without its ack, and that relay is avoided for kRelayAvoidNs.
  static constexpr uint64_t kRelayTimeoutFloorNs = 50'000'000;
  static constexpr uint64_t kRelayAvoidNs = 1'000'000'000;
  // The best the paths carried counts as "lately" for this long (while
  // they run near it, it stays; while the relay lane is open, it stays).
  static constexpr uint64_t kSlowPeakNs = 10'000'000'000;
  // Slow paths are judged at most this often.
  static constexpr uint64_t kSlowCheckNs = 1'000'000;
  static constexpr uint64_t kCpuBoundLogNs = 1'000'000'000;
  // A peer's kernel that sent no ACK for this long while our bytes travel
  // is delaying them for a process that reads nothing (peerHolds).
  static constexpr uint32_t kPeerQuietMs = 10;
  // A lane opened beside slow paths closes after the link sent nothing
  // for this long.
  static constexpr uint64_t kAssistIdleNs = 1'000'000'000;
};

// Before a communicator's links close (one by one, their routers
// detached: a relayed frame arriving then has nowhere to go and is
// dropped), moves all of them together until none owes relaying (frames of
// other ranks passed on, chunks of ours acknowledged) and a round moves
// nothing, or until deadlineNs (CLOCK_MONOTONIC). Links that fail are left
// out.
void drainRelays(const std::vector<Link*>& links, uint64_t deadlineNs);

}  // namespace mrd::link
