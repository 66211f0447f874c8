// Earliest-finish path choice; see path_scheduler.h.
#include "link/path_scheduler.h"

#include <algorithm>

namespace mrd::link {

double creditedRate(const std::vector<PathEstimate>& paths, size_t i, double fallback) {
  const PathEstimate& p = paths[i];
  double r = p.bytesPerUs;
  if (r <= 0) {
    // Unmeasured (new, or back from down): as slow as the slowest measured
    // one, so it earns its share by showing its speed.
    double slowest = 0;
    for (const PathEstimate& o : paths) {
      if (o.usable && o.bytesPerUs > 0) slowest = slowest == 0 ? o.bytesPerUs : std::min(slowest, o.bytesPerUs);
    }
    r = slowest > 0 ? slowest : fallback;
    return p.degraded ? r / 2 : r;
  }
  // A measured goodput already says how the path does.
  return r;
}

double finishUs(const std::vector<PathEstimate>& paths, size_t i, size_t bytes, double fallback) {
  const PathEstimate& p = paths[i];
  const double rate = std::max(creditedRate(paths, i, fallback), 1e-6);
  return static_cast<double>(p.queuedBytes + bytes) / rate + p.rttUs / 2;
}

int pickPath(const std::vector<PathEstimate>& paths, size_t bytes, double fallback) {
  int best = -1;
  double bestUs = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (!paths[i].usable) continue;
    const double t = finishUs(paths, i, bytes, fallback);
    if (best < 0 || t < bestUs) {
      best = static_cast<int>(i);
      bestUs = t;
    }
  }
  if (best < 0) return -1;
  const PathEstimate& p = paths[static_cast<size_t>(best)];
  // A chunk larger than the cap still goes to an empty path.
  if (p.capBytes > 0 && p.queuedBytes > 0 && p.queuedBytes + bytes > p.capBytes) return -1;
  return best;
}

}  // namespace mrd::link
