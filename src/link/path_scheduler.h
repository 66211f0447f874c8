// Which path of a link carries the next chunk: the one that would finish
// it soonest, from each path's capacity (its best recent goodput, capped by
// its silence), round-trip time and the bytes already queued on it. A path at a twentieth of the others' rate gets a
// twentieth of the traffic; a down path gets none.
#pragma once

#include <cstddef>
#include <vector>

namespace mrd::link {

struct PathEstimate {
  bool usable = true;          // not down
  bool degraded = false;       // counts at half its rate (its goodput is not measured yet)
  double bytesPerUs = 0;       // capacity (Link::fillEstimates); <= 0: not measured yet
  double rttUs = 0;
  size_t queuedBytes = 0;      // handed to the path and not acknowledged
  size_t capBytes = 0;         // at most this much outstanding (0: no cap)
};

// The rate a path is credited with: measured, or (not yet measured) the
// slowest measured usable path's, or `fallback` when none is measured.
double creditedRate(const std::vector<PathEstimate>& paths, size_t i, double fallback);
// When a chunk of `bytes` handed to path i now would be delivered (us).
double finishUs(const std::vector<PathEstimate>& paths, size_t i, size_t bytes, double fallback);
// The path to hand the chunk to, or -1 when the best one is full (the
// chunk waits for it: any other path would deliver later) or none is usable.
int pickPath(const std::vector<PathEstimate>& paths, size_t bytes, double fallback);

}  // namespace mrd::link
