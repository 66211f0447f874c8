// Local NIC state from route netlink; see nic_watch.h.
#include "link/nic_watch.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log/log.h"

namespace mrd::link {
namespace {

bool usableFlags(unsigned flags) { return (flags & IFF_UP) != 0 && (flags & IFF_RUNNING) != 0; }

}  // namespace

std::vector<NicEvent> parseNicEvents(const void* buf, size_t len) {
  std::vector<NicEvent> out;
  const char* p = static_cast<const char*>(buf);
  size_t off = 0;
  while (len - off >= sizeof(nlmsghdr)) {
    nlmsghdr h;
    std::memcpy(&h, p + off, sizeof h);
    if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > len - off) break;
    const size_t msgEnd = off + h.nlmsg_len;
    if ((h.nlmsg_type == RTM_NEWLINK || h.nlmsg_type == RTM_DELLINK) &&
        h.nlmsg_len >= NLMSG_LENGTH(sizeof(ifinfomsg))) {
      ifinfomsg ifi;
      std::memcpy(&ifi, p + off + NLMSG_HDRLEN, sizeof ifi);
      NicEvent e;
      e.ifindex = ifi.ifi_index;
      e.gone = h.nlmsg_type == RTM_DELLINK;
      e.usable = !e.gone && usableFlags(ifi.ifi_flags);
      // Attributes follow the ifinfomsg, each aligned to 4 bytes.
      size_t a = off + NLMSG_LENGTH(sizeof(ifinfomsg));
      a = off + NLMSG_ALIGN(a - off);
      while (a + sizeof(rtattr) <= msgEnd) {
        rtattr at;
        std::memcpy(&at, p + a, sizeof at);
        if (at.rta_len < sizeof(rtattr) || at.rta_len > msgEnd - a) break;
        if (at.rta_type == IFLA_IFNAME) {
          const char* name = p + a + RTA_LENGTH(0);
          const size_t max = at.rta_len - RTA_LENGTH(0);
          e.name.assign(name, strnlen(name, max));
        }
        a += RTA_ALIGN(at.rta_len);
      }
      out.push_back(std::move(e));
    }
    if (h.nlmsg_type == NLMSG_DONE) break;
    off += NLMSG_ALIGN(h.nlmsg_len);
    if (off > len) break;
  }
  return out;
}

std::shared_ptr<NicWatch> NicWatch::open() {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    MRD_LOG_INFO(kNet, "no NIC watch (netlink socket: {}): dead NICs are found by silence only", std::strerror(errno));
    return nullptr;
  }
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    MRD_LOG_INFO(kNet, "no NIC watch (netlink bind: {}): dead NICs are found by silence only", std::strerror(errno));
    ::close(fd);
    return nullptr;
  }
  return std::shared_ptr<NicWatch>(new NicWatch(fd));
}

std::shared_ptr<NicWatch> NicWatch::detached() { return std::shared_ptr<NicWatch>(new NicWatch(-1)); }

NicWatch::~NicWatch() {
  if (fd_ >= 0) ::close(fd_);
}

void NicWatch::poll(uint64_t nowNs, bool force) {
  if (fd_ < 0 || (!force && nowNs - lastReadNs_ < kReadGapNs && lastReadNs_ != 0)) return;
  lastReadNs_ = nowNs;
  alignas(nlmsghdr) char buf[16384];
  bool lost = false;
  while (true) {
    ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      apply(parseNicEvents(buf, static_cast<size_t>(n)), nowNs);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // ENOBUFS: the kernel dropped messages (we read too late). It says so
    // before the older ones still queued: read those, then ask for the
    // present state, which they must not overwrite.
    if (n < 0 && errno == ENOBUFS) {
      lost = true;
      continue;
    }
    break;  // EAGAIN, or nothing more to learn from this socket
  }
  if (lost) resync(nowNs);
}

void NicWatch::apply(const std::vector<NicEvent>& events, uint64_t nowNs) {
  for (const NicEvent& e : events) {
    if (e.name.empty()) continue;
    auto it = nics_.find(e.name);
    if (it == nics_.end()) continue;  // not a NIC of ours
    if (it->second.usable == e.usable) continue;
    it->second.usable = e.usable;
    it->second.changedNs = nowNs;
    ++generation_;
    MRD_LOG_INFO(kNet, "NIC {} is {} (kernel link event)", e.name,
                 e.gone ? "gone" : e.usable ? "up" : "down or without carrier");
  }
}

bool NicWatch::askKernel(const std::string& ifname) const {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return true;  // cannot tell: assume it works
  ifreq req{};
  std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  const bool ok = ioctl(s, SIOCGIFFLAGS, &req) == 0;
  const int err = errno;
  ::close(s);
  if (!ok) return err != ENODEV;  // gone: unusable; other errors: cannot tell
  return usableFlags(static_cast<unsigned>(req.ifr_flags) & 0xffffu);
}

void NicWatch::resync(uint64_t nowNs) {
  for (auto& [name, st] : nics_) {
    const bool now = askKernel(name);
    if (now == st.usable) continue;
    st.usable = now;
    st.changedNs = nowNs;
    ++generation_;
  }
}

bool NicWatch::usable(const std::string& label) {
  // An address label (eth0:1) names its interface before the colon; link
  // events name the interface.
  const std::string ifname = label.substr(0, label.find(':'));
  auto it = nics_.find(ifname);
  if (it == nics_.end()) {
    State st;
    st.usable = fd_ < 0 ? true : askKernel(ifname);
    it = nics_.emplace(ifname, st).first;
  }
  return it->second.usable;
}

uint64_t NicWatch::changedAtNs(const std::string& label) const {
  auto it = nics_.find(label.substr(0, label.find(':')));
  return it == nics_.end() ? 0 : it->second.changedNs;
}

}  // namespace mrd::link
