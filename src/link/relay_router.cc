// Which link relays for which; see relay_router.h.
#include "link/relay_router.h"

#include <algorithm>

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

bool RelayRouter::canRelay(int r, int dest) const {
  const Link* l = byRank_[static_cast<size_t>(r)];
  const int host = hostOf_[static_cast<size_t>(r)];
  return l != nullptr && host != hostOf_[static_cast<size_t>(dest)] &&
         host != hostOf_[static_cast<size_t>(self_)] && !l->cut() && !l->assisted();
}

void RelayRouter::recount(uint64_t nowNs) {
  if (countedNs_ != 0 && nowNs - countedNs_ < 1'000'000) return;
  countedNs_ = nowNs;
  busy_ = 0;
  bestRate_ = 0;
  for (const Link* l : all_) {
    if (l->owesData()) ++busy_;
    bestRate_ = std::max(bestRate_, l->capacityBytesPerUs());
  }
  busy_ = std::max(busy_, 1);
}

int RelayRouter::busyLinks(uint64_t nowNs) {
  recount(nowNs);
  return busy_;
}

double RelayRouter::bestLinkBytesPerUs(uint64_t nowNs) {
  recount(nowNs);
  return bestRate_;
}

int RelayRouter::pickRelay(int dest, const std::function<bool(int)>& skip) const {
  if (dest < 0 || dest >= nranks()) return -1;
  int best = -1;
  size_t bestQueued = 0;
  for (int r = 0; r < nranks(); ++r) {
    if (!canRelay(r, dest) || skip(r)) continue;
    const size_t queued = byRank_[static_cast<size_t>(r)]->relayQueuedBytes();
    if (best < 0 || queued < bestQueued) {
      best = r;
      bestQueued = queued;
    }
  }
  return best;
}

}  // namespace mrd::link
