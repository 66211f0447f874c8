// link_fault_perf's view of the links of rank 0: per report interval, each
// rail's share of the bytes sent to each remote peer and its paths' worst
// state (from mrdCommGetLinkStats); and every path state change seen, to
// time the library's reaction to a fault.
//
// Besides one entry per rail, a link may list its relay lane (rail -1, see
// kRelayRail): what it sent through a rank on a third host while every
// path to its peer was cut, or slow. It is shown as "relay", never as a
// rail.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "link_fault/fault_hook.h"
#include "meridian/meridian.h"

namespace mrdlinkfault {

// The rail of a link's relay lane in mrdCommGetLinkStats: no NIC of this
// rank, so no rail index; its bytesSent are the bytes relayed to the peer
// through other ranks.
constexpr int kRelayRail = -1;

// "rail 1", or "relay" for the relay lane.
std::string RailName(int rail);

// Rails in index order, then the relay lane: a report lists the rails the
// same way whether or not a link relays.
struct RailOrder {
  bool operator()(int a, int b) const {
    if ((a == kRelayRail) != (b == kRelayRail)) return b == kRelayRail;
    return a < b;
  }
};
using RailBytes = std::map<int, uint64_t, RailOrder>;

struct StateChange {
  uint64_t mono_us;
  int peer, channel, rail;
  mrdPathState_t from, to;
  bool operator<(const StateChange& o) const {
    return std::tie(mono_us, peer, channel, rail) < std::tie(o.mono_us, o.peer, o.channel, o.rail);
  }
};

// For each fault event, the first of `changes` after it (before the next
// event) that goes the same way, on the rail it names if it names one, as a
// report line: "<what>: first reaction X ms after it began, Y ms after it
// took effect, Z ms after it was whole (peer 1 channel 0 rail 1 healthy ->
// down; the fault took N ms to apply)" (Y, Z: when its line says when the
// kernel made the change, and made all of it), or "no path state change".
std::vector<std::string> ReactionLines(const std::set<StateChange>& changes,
                                       const std::vector<FaultEvent>& events);

class PathReport {
 public:
  PathReport(mrdComm_t comm, int rank, int nranks) : comm_(comm), rank_(rank), nranks_(nranks) {}

  // Reads every link's stats; returns " | p2 r0 H 52% r1 D 48% ..." for the
  // bytes sent since the previous call (rails that sent nothing show 0%;
  // the relay lane, when listed, shows as "relay").
  // Returns false (and a message in *line) if the library call fails.
  bool Sample(std::string* line);
  const std::set<StateChange>& changes() const { return changes_; }
  // Bytes sent per rail (all peers) since the start; kRelayRail: relayed.
  const RailBytes& rail_bytes() const { return rail_bytes_total_; }
  // Chunks sent again per rail (all peers; taken over from a slow or dead
  // path, so each is a second copy), as of the last sample.
  RailBytes rail_resends() const;
  // Bytes relayed to each peer through other ranks (its relay lane's
  // bytesSent, all channels), read now; peers whose links list no relay
  // lane are absent. *all: every lane's bytes to every peer (paths and
  // relay lanes). Returns false (and a message in *error) if the library
  // call fails.
  bool RelayedBytes(std::map<int, uint64_t>* per_peer, uint64_t* all, std::string* error);

  // For each fault event, the first state change after it that goes the
  // same way (worse after a fault, better after a repair), as report lines
  // (ReactionLines over the changes seen).
  std::vector<std::string> Reactions(const std::vector<FaultEvent>& events) const {
    return ReactionLines(changes_, events);
  }

 private:
  // Every entry of the link to `peer`; false (and a message in *error) if
  // the library call fails.
  bool LinkStats(int peer, std::vector<mrdPathStats_t>* stats, std::string* error);

  mrdComm_t comm_;
  int rank_, nranks_;
  std::map<std::tuple<int, int, int>, uint64_t> last_sent_;  // (peer, channel, rail)
  std::map<std::tuple<int, int, int>, uint64_t> resends_;    // (peer, channel, rail)
  RailBytes rail_bytes_total_;
  std::set<StateChange> changes_;
};

const char* StateName(mrdPathState_t s);

}  // namespace mrdlinkfault
