// link_fault_perf's view of the links of rank 0: per report interval, each
// rail's share of the bytes sent to each remote peer and its paths' worst
// state (from mrdCommGetLinkStats); and every path state change seen, to
// time the library's reaction to a fault.
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

struct StateChange {
  uint64_t mono_us;
  int peer, channel, rail;
  mrdPathState_t from, to;
  bool operator<(const StateChange& o) const {
    return std::tie(mono_us, peer, channel, rail) < std::tie(o.mono_us, o.peer, o.channel, o.rail);
  }
};

class PathReport {
 public:
  PathReport(mrdComm_t comm, int rank, int nranks) : comm_(comm), rank_(rank), nranks_(nranks) {}

  // Reads every link's stats; returns " | p2 r0 H 52% r1 D 48% ..." for the
  // bytes sent since the previous call (rails that sent nothing show 0%).
  // Returns false (and a message in *line) if the library call fails.
  bool Sample(std::string* line);
  const std::set<StateChange>& changes() const { return changes_; }
  // Bytes sent per rail (all peers) since the start.
  const std::map<int, uint64_t>& rail_bytes() const { return rail_bytes_total_; }
  // Chunks sent again per rail (all peers; taken over from a slow or dead
  // path, so each is a second copy), as of the last sample.
  std::map<int, uint64_t> rail_resends() const;

  // For each fault event, the first state change after it that goes the
  // same way (worse after a fault, better after a repair), as report lines.
  std::vector<std::string> Reactions(const std::vector<FaultEvent>& events) const;

 private:
  mrdComm_t comm_;
  int rank_, nranks_;
  std::map<std::tuple<int, int, int>, uint64_t> last_sent_;  // (peer, channel, rail)
  std::map<std::tuple<int, int, int>, uint64_t> resends_;    // (peer, channel, rail)
  std::map<int, uint64_t> rail_bytes_total_;
  std::set<StateChange> changes_;
};

const char* StateName(mrdPathState_t s);

}  // namespace mrdlinkfault
