// A TCP connection to one peer on one channel: one or more sockets
// (MRD_NSOCKS_PER_PEER). A large message is cut into one piece per socket;
// each socket carries its pieces in posting order with a small header
// (tag, total bytes, kind), so the receiver checks every message.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/ring_queue.h"
#include "transport/transport.h"

namespace mrd::transport::tcp {

struct WireHeader {
  uint64_t tag;
  uint64_t bytes;    // the whole message; the piece length follows from it
  uint32_t kind;     // kData, kPing, kPong
  uint32_t reserved;
  uint64_t stampNs;  // probes: the ping's send time
};

class TcpConnection : public Connection {
 public:
  TcpConnection(int peer, int selfRank, std::vector<int> fds);
  ~TcpConnection() override;

  int peer() const override { return peer_; }
  Status postSend(Request* r) override;
  Status postRecv(Request* r) override;
  Status progress(bool* moved) override;
  Status probe() override;
  ProbeSample lastProbe() const override { return probe_; }
  void addPollFds(std::vector<pollfd>* fds) const override;

 private:
  struct Piece {
    Request* req = nullptr;  // null for control messages
    size_t offset = 0;
    size_t len = 0;
    WireHeader hdr{};
  };
  struct Socket {
    int fd = -1;
    RingQueue<Piece> sends;
    RingQueue<Piece> recvs;
    size_t sendDone = 0;  // bytes of the front send (header + payload) written
    WireHeader inHdr{};
    size_t inHdrGot = 0;
    size_t recvDone = 0;  // payload bytes of the front recv read
    bool eof = false;     // the peer closed its end (fine while nothing is expected)
  };

  // The byte range of message `bytes` carried by socket i.
  void pieceOf(size_t bytes, size_t i, size_t* offset, size_t* len) const;
  Status progressSend(Socket& s, bool* moved);
  Status progressRecv(Socket& s, bool* moved);
  Status handleControl(Socket& s);
  Status peerError(const std::string& what) const;

  int peer_;
  int self_;
  std::vector<Socket> socks_;
  ProbeSample probe_{};
};

}  // namespace mrd::transport::tcp
