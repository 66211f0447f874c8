#include "probe/tcp_info.h"

// <linux/tcp.h> rather than glibc's <netinet/tcp.h>: glibc 2.36's struct
// tcp_info stops at tcpi_total_retrans, without the delivery rate. The two
// headers cannot be mixed, and this file needs nothing else from glibc's.
#include <linux/tcp.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

namespace mrd::probe {

Status readTcpStats(int fd, TcpStats* out) {
  if (out == nullptr) return invalidArgument("readTcpStats: null output");
  *out = TcpStats();
  struct tcp_info info;
  std::memset(&info, 0, sizeof(info));
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
    return systemError(errnoText("getsockopt(TCP_INFO) on fd " + std::to_string(fd), errno));
  }
  // An older kernel fills a shorter struct: the fields past `len` stay 0.
  constexpr size_t kNeedsBasic = offsetof(struct tcp_info, tcpi_total_retrans) + sizeof(__u32);
  if (len < kNeedsBasic) {
    return systemError("getsockopt(TCP_INFO) on fd " + std::to_string(fd) + ": only " +
                       std::to_string(len) + " bytes returned");
  }
  out->rttUs = info.tcpi_rtt;
  out->rttVarUs = info.tcpi_rttvar;
  out->retransmits = info.tcpi_retransmits;
  out->lost = info.tcpi_lost;
  out->unacked = info.tcpi_unacked;
  out->totalRetrans = info.tcpi_total_retrans;
  constexpr size_t kNeedsRate = offsetof(struct tcp_info, tcpi_delivery_rate) + sizeof(__u64);
  out->deliveryRateBps = len >= kNeedsRate ? info.tcpi_delivery_rate : 0;
  out->valid = true;
  return Status::ok();
}

std::string describeTcpSocket(int fd) {
  struct tcp_info info;
  std::memset(&info, 0, sizeof(info));
  socklen_t len = sizeof(info);
  if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return "";
  int inq = 0;
  int outq = 0;
  const bool queues = ioctl(fd, SIOCINQ, &inq) == 0 && ioctl(fd, SIOCOUTQ, &outq) == 0;
  std::string s = "kernel: " + std::to_string(info.tcpi_unacked) + " unacked, " +
                  std::to_string(info.tcpi_retransmits) + " retransmits (backoff " +
                  std::to_string(static_cast<unsigned>(info.tcpi_backoff)) + ", rto " +
                  std::to_string(info.tcpi_rto / 1000) + " ms, " + std::to_string(info.tcpi_total_retrans) +
                  " in all), last data in " + std::to_string(info.tcpi_last_data_recv) + " ms ago, last ack in " +
                  std::to_string(info.tcpi_last_ack_recv) + " ms ago";
  if (queues) s += ", " + std::to_string(inq) + " B to read, " + std::to_string(outq) + " B unsent or unacked";
  return s;
}

bool tcpStatsSuggestLoss(const TcpStats& before, const TcpStats& after) {
  if (!before.valid || !after.valid) return false;
  return after.totalRetrans > before.totalRetrans || after.retransmits > before.retransmits ||
         after.lost > before.lost;
}

}  // namespace mrd::probe
