// The shared-memory layout: one segment per rank and communicator, holding
// that rank's inbound rings, one per (sender rank, channel), a header with
// the doorbell peers ring when they give it data or free ring space, and,
// when every rank is on this host, the rank's board area (small
// collectives, core/local_board.h).
//
// Segments are created, mapped by every peer, and unlinked at the end of
// setup, so a crash later leaves nothing in /dev/shm; leftovers of a crash
// during setup are removed by the next init (their owner pid is gone).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace mrd::transport::shm {

constexpr uint32_t kSegmentMagic = 0x4d524453;  // "MRDS"

struct alignas(64) SegmentHeader {
  uint32_t magic;
  int32_t pid;
  std::atomic<uint32_t> doorbell;  // futex word
  std::atomic<uint32_t> sleeping;  // the owner waits: kSleepFutex or kSleepPoll
  std::atomic<uint32_t> aborted;   // the owner aborted: peers fail fast
  uint64_t probeAddr;              // address of `magic` in the owner's memory (CMA check)
  // The owner's wake socket (abstract AF_UNIX datagram name, without the
  // leading NUL; empty: none), rung instead of the futex while the owner
  // sleeps in poll() with sockets of other transports.
  uint32_t wakeNameLen;
  char wakeName[60];
  // Why the owner gave up on the communicator (its error, cut to fit),
  // written before `aborted` is raised; empty for an abort or destroy.
  // Peers waiting on the owner report it, so a failure far away (a killed
  // rank) is named by every rank it stops, not only by its neighbours.
  uint32_t abortWhyLen;
  char abortWhy[508];
};
// The owner's reason for aborting (empty: none given), read after seeing
// `aborted` raised; bounded whatever the (peer-written) length says.
std::string abortReason(const SegmentHeader* h);
constexpr uint32_t kSleepFutex = 1, kSleepPoll = 2;

struct alignas(64) RingHeader {
  alignas(64) std::atomic<uint64_t> head;  // bytes written, by the sender
  alignas(64) std::atomic<uint64_t> tail;  // bytes consumed, by the receiver
  // Single-copy messages the receiver has read straight out of the sender's
  // memory (process_vm_readv); the sender's buffer is free again after that.
  alignas(64) std::atomic<uint64_t> cmaAcked;
};

struct SegmentLayout {
  int nranks = 0;
  int nchannels = 0;
  size_t ringBytes = 0;
  size_t boardBytes = 0;  // the owner's board area, after the rings (0: none)
  size_t ringStride() const { return sizeof(RingHeader) + ringBytes; }
  size_t boardOffset() const {
    const size_t end = sizeof(SegmentHeader) + static_cast<size_t>(nranks) * nchannels * ringStride();
    return (end + 63) / 64 * 64;
  }
  size_t totalBytes() const { return boardBytes > 0 ? boardOffset() + boardBytes : boardOffset(); }
  size_t ringOffset(int sender, int channel) const {
    return sizeof(SegmentHeader) +
           (static_cast<size_t>(sender) * nchannels + channel) * ringStride();
  }
};

std::string segmentName(int ownerPid, const std::string& commTag, int rank);

// A mapping that unmaps itself (and unlinks the name if still owned).
class Segment {
 public:
  Segment() = default;
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  Status create(const std::string& name, size_t bytes);
  Status open(const std::string& name, size_t bytes);
  void unlink();
  char* base() const { return base_; }
  SegmentHeader* header() const { return reinterpret_cast<SegmentHeader*>(base_); }

 private:
  std::string name_;
  char* base_ = nullptr;
  size_t bytes_ = 0;
  bool owned_ = false;
};

// Removes /dev/shm/mrd-<pid>-* whose pid no longer runs.
void removeStaleSegments();

}  // namespace mrd::transport::shm
