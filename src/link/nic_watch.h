// Sees a local NIC stop working the moment the kernel does, instead of
// waiting for the paths over it to go quiet: a route netlink socket
// subscribed to link changes (RTNLGRP_LINK), as a RDMA transport listens
// to its device's async events (port down / active).
//
// A NIC is unusable while it is administratively down (no IFF_UP) or has
// no carrier (no IFF_RUNNING: cable pulled, the other end of a veth down).
// The links of one communicator share one NicWatch, read from the thread
// that progresses them (not thread-safe). Reading costs one non-blocking
// recv at most every kReadGapNs (or at once with poll's `force`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mrd::link {

struct NicEvent {
  int ifindex = 0;
  std::string name;     // empty when the message named none
  bool gone = false;    // the interface was deleted
  bool usable = false;  // IFF_UP and IFF_RUNNING
};

// The link messages (RTM_NEWLINK, RTM_DELLINK) of one netlink datagram, in
// order; everything else in it is skipped. Bounds-checked: a truncated or
// malformed message ends the parse (the events before it are kept).
std::vector<NicEvent> parseNicEvents(const void* buf, size_t len);

class NicWatch {
 public:
  // Opens the netlink socket; nullptr (and an INFO log line) when the
  // kernel refuses it: the links then find a dead NIC by its silence only.
  static std::shared_ptr<NicWatch> open();
  // One with no socket, fed only through apply() (tests).
  static std::shared_ptr<NicWatch> detached();
  ~NicWatch();
  NicWatch(const NicWatch&) = delete;
  NicWatch& operator=(const NicWatch&) = delete;

  // Readable when the kernel has news (for the progress loop's poll set).
  int fd() const { return fd_; }
  // Reads whatever the kernel sent; `force`: even within kReadGapNs of the
  // last read (the fd polled readable).
  void poll(uint64_t nowNs, bool force = false);
  // Counts the changes seen: a link re-checks its NICs when it moved.
  uint64_t generation() const { return generation_; }
  // Whether `ifname` is up with carrier, as far as the kernel said since
  // this watch opened (a NIC it never mentioned: asked once, then kept).
  // An address label (eth0:1) stands for its interface (eth0).
  bool usable(const std::string& ifname);
  // When `ifname` last changed (monotonic ns of the read that saw it; 0:
  // never): reactions are timed from it.
  uint64_t changedAtNs(const std::string& ifname) const;

  // Feeds events as if read from the socket (tests).
  void apply(const std::vector<NicEvent>& events, uint64_t nowNs);

  static constexpr uint64_t kReadGapNs = 500'000;

 private:
  explicit NicWatch(int fd) : fd_(fd) {}
  bool askKernel(const std::string& ifname) const;  // SIOCGIFFLAGS
  void resync(uint64_t nowNs);  // the socket lost messages: ask for every known NIC

  struct State {
    bool usable = true;
    uint64_t changedNs = 0;
  };
  int fd_ = -1;
  uint64_t lastReadNs_ = 0;
  uint64_t generation_ = 0;
  std::map<std::string, State> nics_;
};

}  // namespace mrd::link
