// The kernel's view of a TCP connection (getsockopt TCP_INFO): its smoothed
// RTT, retransmissions and delivery rate. A cheap, passive second opinion on
// a TCP path next to the probe's own pings; Linux only.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace mrd::probe {

struct TcpStats {
  double rttUs = 0;              // smoothed RTT
  double rttVarUs = 0;           // its mean deviation
  uint32_t retransmits = 0;      // RTO retransmissions of the current segment
  uint32_t lost = 0;             // segments the kernel believes lost, in flight
  uint32_t unacked = 0;          // segments sent and not yet acknowledged
  uint64_t totalRetrans = 0;     // retransmitted segments over the connection
  uint64_t deliveryRateBps = 0;  // bytes/s; 0 where the kernel does not report it
  bool valid = false;
};

// Reads `fd`'s TCP_INFO into *out. Does not block. Fails with systemError
// naming the fd and errno (ENOTSOCK for a non-socket, EOPNOTSUPP for a
// socket that is not TCP) and leaves *out invalid.
Status readTcpStats(int fd, TcpStats* out);

// The kernel's state of a TCP socket in a few words, for hang reports:
// "kernel: 5 unacked, 3 retransmits (backoff 4, rto 3200 ms), last data in
// 20012 ms ago, last ack in 20 ms ago, 0 B to read, 123456 B unsent or
// unacked"; "" when fd is not a TCP socket.
std::string describeTcpSocket(int fd);

// Whether the connection lost data between two readings: retransmissions or
// the lost count grew. False unless both readings are valid.
bool tcpStatsSuggestLoss(const TcpStats& before, const TcpStats& after);

}  // namespace mrd::probe
