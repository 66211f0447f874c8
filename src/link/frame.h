// What a link's paths carry: frames with a fixed header. A data frame is
// one chunk of one message, named by the message's sequence number on the
// link (per direction) and the chunk's offset, so the receiver places it
// whatever path it came on, and drops a chunk it already has.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mrd::link {

// Messages move in chunks of this size (the last one shorter); both sides
// must agree, so it is a protocol constant, not a setting.
constexpr size_t kChunkBytes = 64 << 10;

enum FrameKind : uint32_t {
  kFrameData = 0x4d440001,  // payload: the chunk
  kFrameAck = 0x4d440002,   // value: data frames received so far on this path (seq 0) or on path seq - 1
  kFramePing = 0x4d440003,  // value: the sender's CLOCK_MONOTONIC ns
  kFramePong = 0x4d440004,  // value: the ping's value, echoed
  // Two hops (relay_router.h): seq = the destination rank, offset = the
  // origin rank; payload: the chunk's own data frame header, then its data.
  kFrameRelay = 0x4d440005,
  // The destination's acknowledgement of one relayed chunk, back the way it
  // came: seq = destination (the chunk's sender), offset = origin, msgBytes
  // = the chunk's index, tag = its message's sequence number. No payload.
  kFrameRelayAck = 0x4d440006,
  // The sender's NIC under path `tag` went down (a kernel link event): the
  // path is dead both ways, whatever the receiver's own NIC says. Goes on
  // another path. No payload.
  kFrameNicDown = 0x4d440007,
  // The sender gave up on the communicator (an operation failed there):
  // payload, the sender's error text (at most kGoodbyeMaxBytes), so the
  // receiver names the cause (a killed rank further along the ring), not
  // only this peer. The last frame on the path.
  kFrameGoodbye = 0x4d440008,
};
constexpr uint32_t kGoodbyeMaxBytes = 1024;

struct Frame {
  uint32_t kind;
  uint32_t len;       // payload bytes after the header
  uint64_t seq;       // data: the message's number on this link and direction
  uint64_t offset;    // data: the chunk's offset in the message
  uint64_t msgBytes;  // data: the whole message
  uint64_t tag;       // data: the message's tag; control frames: their value
};
static_assert(sizeof(Frame) == 40, "the header is part of the wire format");

inline size_t chunkCount(uint64_t msgBytes) {
  // A zero-byte message still travels, as one empty chunk.
  return msgBytes == 0 ? 1 : static_cast<size_t>((msgBytes + kChunkBytes - 1) / kChunkBytes);
}

inline uint32_t chunkLen(uint64_t msgBytes, size_t index) {
  const uint64_t off = static_cast<uint64_t>(index) * kChunkBytes;
  if (off >= msgBytes) return 0;
  return static_cast<uint32_t>(msgBytes - off < kChunkBytes ? msgBytes - off : kChunkBytes);
}

// A data frame's chunk geometry is consistent: its offset starts a chunk
// of its message and its length is that chunk's.
inline bool chunkHeaderValid(const Frame& f) {
  return f.offset % kChunkBytes == 0 && f.offset / kChunkBytes < chunkCount(f.msgBytes) &&
         f.len == chunkLen(f.msgBytes, static_cast<size_t>(f.offset / kChunkBytes));
}

}  // namespace mrd::link
