// Where the ranks of a job live: which ranks share a host, and each rank's
// index among them. Pure bookkeeping over a sameHost predicate (the
// communicator passes Bootstrap::sameHost), so it is unit-testable without
// a job.
#pragma once

#include <functional>
#include <vector>

namespace mrd::topo {

struct JobLayout {
  int nranks = 0;
  int nhosts = 0;
  // rank -> host index; hosts are numbered in order of their lowest rank.
  std::vector<int> hostOf;
  // host -> its ranks, ascending.
  std::vector<std::vector<int>> ranksOfHost;
  // rank -> index of the rank within its host (its position in ranksOfHost).
  std::vector<int> localRank;

  // The largest number of ranks on one host (0 for an empty job).
  int maxLocalSize() const;
  // True when every host runs the same number of ranks (an empty job is uniform).
  bool uniform() const;
  // The rank that is the localIndex-th on host `host`; -1 if there is none.
  int rankOn(int host, int localIndex) const;
};

// sameHost(a, b) must be an equivalence relation on [0, nranks). It is
// called with a = the lowest rank of a host found so far and b > a, at most
// nranks * nhosts times. nranks < 0 counts as 0.
JobLayout buildJobLayout(int nranks, const std::function<bool(int, int)>& sameHost);

}  // namespace mrd::topo
