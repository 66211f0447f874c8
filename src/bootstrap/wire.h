// What travels over bootstrap sockets and inside an mrdUniqueId. Fixed-size
// little structs; every message starts with a magic and a version so
// garbage and other programs are recognised and refused.
#pragma once

#include <cstdint>
#include <cstring>

#include "bootstrap/socket.h"
#include "meridian/meridian.h"

namespace mrd::bootstrap {

constexpr uint32_t kIdMagic = 0x4d524455;     // "MRDU"
constexpr uint32_t kHelloMagic = 0x4d524448;  // "MRDH"
constexpr uint32_t kReplyMagic = 0x4d524452;  // "MRDR"
constexpr uint32_t kRingMagic = 0x4d52444e;   // "MRDN"
constexpr uint32_t kWireVersion = 1;
constexpr size_t kSecretBytes = 16;
constexpr int kMaxRanks = 1 << 16;

struct Secret {
  uint8_t bytes[kSecretBytes];
  bool operator==(const Secret& o) const { return std::memcmp(bytes, o.bytes, kSecretBytes) == 0; }
};

// An IPv4 or IPv6 address and port in 20 bytes (sockaddr_storage is 128).
struct WireAddr {
  uint16_t family;
  uint16_t port;  // host order
  uint8_t addr[16];
};
WireAddr toWire(const net::SockAddr& a);
net::SockAddr fromWire(const WireAddr& w);

// The mrdUniqueId payload.
struct IdPayload {
  uint32_t magic;
  uint32_t version;
  uint32_t pinned;  // 1: root address came from MRD_COMM_ID/MASTER_ADDR; rank 0 hosts it
  WireAddr root;
  Secret secret;
};
static_assert(sizeof(IdPayload) <= MRD_UNIQUE_ID_BYTES, "IdPayload must fit in mrdUniqueId");

// What each rank tells the root, and the root sends back to everyone.
struct RankInfo {
  int32_t rank;
  int32_t pid;
  uint32_t addrLen;  // bootstrap listen address (the ring)
  sockaddr_storage addr;
  char hostId[192];  // hostname|boot id|net namespace: equal means "same host"
  char hostname[64];
};

struct Hello {
  uint32_t magic;
  uint32_t version;
  Secret secret;
  int32_t rank;
  int32_t nranks;
  RankInfo info;
};

struct Reply {
  uint32_t magic;
  int32_t result;  // mrdResult_t; not success: message follows, no table
  int32_t nranks;
  char message[256];
};

struct RingHello {
  uint32_t magic;
  Secret secret;
  int32_t rank;
};

}  // namespace mrd::bootstrap
