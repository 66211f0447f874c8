// libFuzzer target: the transport's frame parser. The input is the byte
// stream a peer sends on one or two paths of a link (link/frame.h: data,
// ack, ping, pong, relay, NIC-down frames) to a Link with up to three
// receives posted; the link must read it without crashing, reading out of
// bounds or hanging, whatever it says (bad lengths, offsets, kinds, tags).
//
//   byte 0:    bit 0: two paths (else one); bits 1-7: where path 0's share
//              of the stream ends, in 1/128ths
//   byte 1:    receives posted (0-3), bits 0-1
//   bytes 2-3: sizes of the receives, in KiB (0-255), the third one 0
//   the rest:  the stream(s)
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/mono_clock.h"
#include "link/link.h"

using mrd::link::Link;
using mrd::link::LinkOptions;
using mrd::link::PathDesc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const int npaths = 1 + (data[0] & 1);
  const size_t split = npaths == 2 ? (size - 4) * (data[0] >> 1) / 128 : size - 4;
  const int nrecv = data[1] & 3;
  const size_t sizes[3] = {size_t{data[2]} << 10, size_t{data[3]} << 10, 0};
  std::vector<PathDesc> paths;
  std::vector<int> peerFds;
  for (int i = 0; i < npaths; ++i) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return 0;
    PathDesc d;
    d.fd = sv[0];
    d.rail = i;
    paths.push_back(d);
    peerFds.push_back(sv[1]);
  }
  LinkOptions opt;
  auto link = std::make_unique<Link>(1, 0, 0, paths, opt);
  std::vector<std::vector<char>> bufs(3);
  mrd::transport::Request reqs[3];
  for (int r = 0; r < nrecv; ++r) {
    bufs[r].resize(sizes[r]);
    reqs[r].tag = static_cast<uint64_t>(r);
    reqs[r].buf = bufs[r].data();
    reqs[r].bytes = sizes[r];
    if (!link->postRecv(&reqs[r]).isOk()) break;
  }
  const uint8_t* streams[2] = {data + 4, data + 4 + split};
  size_t left[2] = {split, size - 4 - split};
  // Write what the sockets take, move the link, until everything is read
  // or the link gives up (an error) or stops moving.
  for (int round = 0; round < 4096; ++round) {
    bool wrote = false;
    for (int i = 0; i < npaths; ++i) {
      if (left[i] == 0) continue;
      const ssize_t n = send(peerFds[i], streams[i], left[i], MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        streams[i] += n;
        left[i] -= static_cast<size_t>(n);
        wrote = true;
      }
    }
    bool moved = false;
    if (!link->progress(&moved).isOk()) break;
    // The link's acks and pongs are read and dropped, as a peer would.
    char sink[4096];
    for (int fd : peerFds) {
      while (recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
      }
    }
    if (!wrote && !moved && left[0] == 0 && left[1] == 0) break;
  }
  for (int fd : peerFds) close(fd);
  link->closeBy(mrd::monotonicNs());  // nothing to wait for
  link.reset();
  return 0;
}
