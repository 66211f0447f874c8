// Writes the seed corpus of the fuzz targets (corpus/<target>/*): well-formed
// inputs in each target's input format, so fuzzing starts from the parsers'
// deep paths. Run by hand when a format changes: make_seeds DIR.
#include <netinet/in.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bootstrap/root.h"
#include "bootstrap/wire.h"
#include "core/launch_env.h"
#include "link/frame.h"

using namespace mrd;

namespace {

using Bytes = std::vector<uint8_t>;

template <typename T>
void put(Bytes* b, const T& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  b->insert(b->end(), p, p + sizeof v);
}

bool write(const std::string& dir, const std::string& name, const Bytes& b) {
  FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(b.data(), 1, b.size(), f) == b.size();
  return std::fclose(f) == 0 && ok;
}

bootstrap::RankInfo rankInfo(int rank) {
  bootstrap::RankInfo info{};
  info.rank = rank;
  info.pid = 1000 + rank;
  auto* in = reinterpret_cast<sockaddr_in*>(&info.addr);
  in->sin_family = AF_INET;
  in->sin_port = htons(static_cast<uint16_t>(40000 + rank));
  in->sin_addr.s_addr = htonl(0x7f000001);
  info.addrLen = sizeof(sockaddr_in);
  std::snprintf(info.hostId, sizeof info.hostId, "host|boot|net");
  std::snprintf(info.hostname, sizeof info.hostname, "host");
  return info;
}

void frame(Bytes* b, uint32_t kind, uint32_t len, uint64_t seq, uint64_t offset, uint64_t msgBytes, uint64_t tag) {
  put(b, link::Frame{kind, len, seq, offset, msgBytes, tag});
  b->insert(b->end(), len, static_cast<uint8_t>(seq + 1));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR (writes DIR/bootstrap_fuzz/*, DIR/frame_fuzz/*)\n");
    return 2;
  }
  const std::string boot = std::string(argv[1]) + "/bootstrap_fuzz";
  const std::string frames = std::string(argv[1]) + "/frame_fuzz";
  bool ok = true;

  // bootstrap_fuzz: mode byte, then its input.
  bootstrap::Hello h{};
  h.magic = bootstrap::kHelloMagic;
  h.version = bootstrap::kWireVersion;
  h.rank = 1;
  h.nranks = 2;
  h.info = rankInfo(1);
  Bytes b = {0, 99};  // mode 0, pieces of 100 bytes
  put(&b, h);
  ok = ok && write(boot, "hello", b);
  bootstrap::Reply rep{};
  rep.magic = bootstrap::kReplyMagic;
  rep.nranks = 2;
  b = {1, 1};  // mode 1, 2 ranks
  put(&b, rep);
  put(&b, rankInfo(0));
  put(&b, rankInfo(1));
  ok = ok && write(boot, "reply_table", b);
  mrdUniqueId id{};
  if (!bootstrap::pinnedUniqueId("127.0.0.1", 29500, &id).isOk()) return 1;
  b = {2};
  put(&b, id);
  ok = ok && write(boot, "unique_id", b);
  const std::string text = uniqueIdToString(id);
  b = {3};
  b.insert(b.end(), text.begin(), text.end());
  ok = ok && write(boot, "unique_id_text", b);

  // frame_fuzz: header (paths, receives, their sizes in KiB), then frames.
  // Two receives of 1 KiB and 70 KiB: message 0 in one chunk, message 1
  // in two (64 KiB + 6 KiB), between control frames.
  Bytes s = {0, 2, 1, 70};
  frame(&s, link::kFramePing, 0, 0, 0, 0, 12345);
  frame(&s, link::kFrameData, 1024, 0, 0, 1024, 0);
  frame(&s, link::kFrameData, 65536, 1, 0, 70 << 10, 1);
  frame(&s, link::kFrameAck, 0, 0, 0, 0, 3);
  frame(&s, link::kFrameData, 6 << 10, 1, 65536, 70 << 10, 1);
  frame(&s, link::kFramePong, 0, 0, 0, 0, 777);
  ok = ok && write(frames, "one_path", s);
  // Two paths (byte 0: bit 0 set, the split at 64/128), the second
  // message's chunks on different paths, and a NIC-down notice.
  Bytes t = {1 | (64 << 1), 2, 1, 70};
  Bytes p0, p1;
  frame(&p0, link::kFrameData, 1024, 0, 0, 1024, 0);
  frame(&p0, link::kFrameData, 65536, 1, 0, 70 << 10, 1);
  frame(&p1, link::kFrameData, 6 << 10, 1, 65536, 70 << 10, 1);
  frame(&p1, link::kFrameNicDown, 0, 0, 0, 0, 0);
  // Equal halves so the split lands between them.
  p1.resize(p0.size(), 0);
  t.insert(t.end(), p0.begin(), p0.end());
  t.insert(t.end(), p1.begin(), p1.end());
  ok = ok && write(frames, "two_paths", t);
  // A message, then the peer's goodbye (it gave up: its reason as payload).
  Bytes g = {0, 1, 1};
  frame(&g, link::kFrameData, 1024, 0, 0, 1024, 0);
  frame(&g, link::kFrameGoodbye, 40, 0, 0, 0, 0);
  ok = ok && write(frames, "goodbye", g);
  if (!ok) std::perror("make_seeds");
  return ok ? 0 : 1;
}
