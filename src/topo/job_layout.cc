#include "topo/job_layout.h"

#include <algorithm>

namespace mrd::topo {

JobLayout buildJobLayout(int nranks, const std::function<bool(int, int)>& sameHost) {
  JobLayout l;
  l.nranks = std::max(nranks, 0);
  l.hostOf.assign(static_cast<size_t>(l.nranks), -1);
  l.localRank.assign(static_cast<size_t>(l.nranks), -1);
  for (int r = 0; r < l.nranks; ++r) {
    int host = -1;
    for (int h = 0; h < l.nhosts && host < 0; ++h) {
      if (sameHost(l.ranksOfHost[static_cast<size_t>(h)].front(), r)) host = h;
    }
    if (host < 0) {
      host = l.nhosts++;
      l.ranksOfHost.emplace_back();
    }
    auto& ranks = l.ranksOfHost[static_cast<size_t>(host)];
    l.hostOf[static_cast<size_t>(r)] = host;
    l.localRank[static_cast<size_t>(r)] = static_cast<int>(ranks.size());
    ranks.push_back(r);  // ranks are visited in order, so each list stays ascending
  }
  return l;
}

int JobLayout::maxLocalSize() const {
  size_t m = 0;
  for (const auto& ranks : ranksOfHost) m = std::max(m, ranks.size());
  return static_cast<int>(m);
}

bool JobLayout::uniform() const {
  for (const auto& ranks : ranksOfHost) {
    if (ranks.size() != ranksOfHost.front().size()) return false;
  }
  return true;
}

int JobLayout::rankOn(int host, int localIndex) const {
  if (host < 0 || host >= nhosts || localIndex < 0) return -1;
  const auto& ranks = ranksOfHost[static_cast<size_t>(host)];
  if (static_cast<size_t>(localIndex) >= ranks.size()) return -1;
  return ranks[static_cast<size_t>(localIndex)];
}

}  // namespace mrd::topo
