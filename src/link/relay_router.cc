// Which link relays for which; see relay_router.h.
#include "link/relay_router.h"

#include "link/link.h"

namespace mrd::link {

RelayRouter::RelayRouter(int self, std::vector<int> hostOf)
    : self_(self), hostOf_(std::move(hostOf)), byRank_(hostOf_.size(), nullptr) {}

void RelayRouter::attach(int peer, Link* link) {
  if (peer < 0 || peer >= nranks() || peer == self_ || byRank_[static_cast<size_t>(peer)] != nullptr) return;
  byRank_[static_cast<size_t>(peer)] = link;
  all_.push_back(link);
}

Link* RelayRouter::linkTo(int rank) const {
  if (rank < 0 || rank >= nranks()) return nullptr;
  return byRank_[static_cast<size_t>(rank)];
}

int RelayRouter::pickRelay(int dest, const std::function<bool(int)>& skip) const {
  if (dest < 0 || dest >= nranks()) return -1;
  const int destHost = hostOf_[static_cast<size_t>(dest)];
  const int ownHost = hostOf_[static_cast<size_t>(self_)];
  int best = -1;
  size_t bestQueued = 0;
  for (int r = 0; r < nranks(); ++r) {
    const Link* l = byRank_[static_cast<size_t>(r)];
    const int host = hostOf_[static_cast<size_t>(r)];
    if (l == nullptr || host == destHost || host == ownHost || l->cut() || skip(r)) continue;
    const size_t queued = l->relayQueuedBytes();
    if (best < 0 || queued < bestQueued) {
      best = r;
      bestQueued = queued;
    }
  }
  return best;
}

}  // namespace mrd::link
