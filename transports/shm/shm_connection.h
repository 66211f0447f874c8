// A shared-memory connection to one peer on one channel: this rank writes
// into its ring inside the peer's segment and reads from the peer's ring
// inside its own. Messages are a header (tag, bytes, kind) then the
// payload, streamed through the ring as space frees up (two copies,
// pipelined at byte granularity).
#pragma once

#include <cstdint>
#include <string>

#include "core/ring_queue.h"
#include "peer_process.h"
#include "shm_segment.h"
#include "transport/transport.h"

namespace mrd::transport::shm {

struct ShmWireHeader {
  uint64_t tag;
  uint64_t bytes;
  uint32_t kind;
  uint32_t reserved;
  uint64_t stampNs;
};

struct RingView {
  RingHeader* hdr = nullptr;
  char* data = nullptr;
  size_t cap = 0;
};

class ShmConnection : public Connection {
 public:
  // cma: this rank may send large messages by address (the peer reads them
  // from our memory with process_vm_readv) instead of through the ring.
  ShmConnection(int peer, int self, RingView out, RingView in, SegmentHeader* peerSeg,
                SegmentHeader* ownSeg, PeerProcess* peerProc, bool cma);

  int peer() const override { return peer_; }
  Status postSend(Request* r) override;
  Status postRecv(Request* r) override;
  Status progress(bool* moved) override;
  Status probe() override;
  ProbeSample lastProbe() const override { return probe_; }
  bool ringsDoorbell() const override { return true; }
  // Ring fill and offsets, queues, and how often the sender rewound.
  std::string describeState() const override;

 private:
  struct OutMsg {
    Request* req = nullptr;  // null: a control message
    ShmWireHeader hdr{};
  };
  Status progressSend(bool* moved);
  bool rewindIfEmpty(size_t need);
  Status progressRecv(bool* moved);
  Status readByAddress(Request* r, bool* moved);
  void completeAcked();
  Status checkPeer();
  Status peerError(const std::string& what) const;

  int peer_;
  int self_;
  RingView out_;
  RingView in_;
  SegmentHeader* peerSeg_;
  SegmentHeader* ownSeg_;
  PeerProcess* peerProc_;  // the transport's, shared by the peer's channels
  RingQueue<OutMsg> sends_;
  RingQueue<std::pair<Request*, uint64_t>> awaitingAck_;  // single-copy sends, by number
  bool cma_;
  uint64_t cmaPosted_ = 0;
  RingQueue<Request*> recvs_;
  size_t sendDone_ = 0;  // header + payload bytes of the front send written
  ShmWireHeader inHdr_{};
  size_t inHdrGot_ = 0;
  size_t recvDone_ = 0;
  uint64_t rewinds_ = 0;  // messages started at the ring's beginning again
  ProbeSample probe_{};
};

// Rings the doorbell of a segment's owner if it sleeps.
void wakeOwner(SegmentHeader* seg);

}  // namespace mrd::transport::shm
