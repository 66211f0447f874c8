// Relaying: when every path of a link is cut, its chunks go through a rank
// on a third host (two hops) instead of waiting for the network to heal;
// when every path is slow, some of them do (Link::judgeSlow: the relay
// lane is one more lane for the scheduler).
//
// One router per communicator and channel knows this rank's links (one per
// peer reached over the network) and which host each rank is on. A link
// that judges itself cut (or slow) asks it for a relay: a rank on neither
// end's host whose own link from here is neither cut nor slow, the least
// loaded first. The relay
// passes each frame on with the same channel's link to the destination;
// the destination places the chunk by its tag like any other copy and
// acknowledges it back the way it came (frame.h, kFrameRelay and
// kFrameRelayAck). Nothing is acknowledged hop by hop: a relayed chunk not
// acknowledged in time is sent again, through another relay if there is one.
//
// A relay must read its sockets when it is not in an operation itself: the
// communicator runs a progress thread between operations, and its
// operations progress every link of the router, not only their own
// (core/comm.h).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace mrd::link {

class Link;

class RelayRouter {
 public:
  // hostOf: rank -> host index, every rank of the communicator.
  RelayRouter(int self, std::vector<int> hostOf);

  int self() const { return self_; }
  int nranks() const { return static_cast<int>(hostOf_.size()); }
  // Registers the link to `peer` (links register themselves, Link::setRouter).
  void attach(int peer, Link* link);
  // The link to `rank`, or nullptr (this rank, a peer reached by shared
  // memory or a plug-in, out of range).
  Link* linkTo(int rank) const;
  // A rank to relay a chunk for `dest` through: on a host other than this
  // rank's and dest's, its link from here neither cut nor slow, `skip`
  // false for it;
  // the one with the fewest bytes waiting to be relayed. -1: none.
  int pickRelay(int dest, const std::function<bool(int)>& skip) const;
  // How many of the links owe data now (at least 1), and the most any of
  // them carried lately (Link::capacityBytesPerUs, bytes per us; 0: none
  // measured): what a link judging itself slow compares with. Counted
  // again at most every millisecond.
  int busyLinks(uint64_t nowNs);
  double bestLinkBytesPerUs(uint64_t nowNs);
  // Every registered link, for those who progress them.
  const std::vector<Link*>& links() const { return all_; }

 private:
  // On neither this rank's host nor dest's, its link from here neither cut
  // nor slow (relaying itself).
  bool canRelay(int r, int dest) const;

  void recount(uint64_t nowNs);

  int self_;
  std::vector<int> hostOf_;
  uint64_t countedNs_ = 0;
  int busy_ = 1;
  double bestRate_ = 0;
  std::vector<Link*> byRank_;
  std::vector<Link*> all_;
};

}  // namespace mrd::link
