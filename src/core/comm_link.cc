// Link statistics: the paths of a communicator's links to one peer.
#include "core/comm.h"

namespace mrd {

Status Communicator::linkStats(int peer, std::vector<link::PathStats>* out,
                               std::vector<int>* channels) {
  out->clear();
  channels->clear();
  if (peer < 0 || peer >= nranks_) {
    return invalidArgument("rank " + std::to_string(rank_) + ": mrdCommGetLinkStats: peer " +
                           std::to_string(peer) + " is not in 0.." + std::to_string(nranks_ - 1));
  }
  // The links belong to whoever runs an operation: read them between operations.
  std::lock_guard<std::mutex> g(execMu_);
  if (static_cast<size_t>(peer) >= conns_.size()) return Status::ok();
  const auto& perChannel = conns_[static_cast<size_t>(peer)];
  std::vector<link::PathStats> one;
  for (size_t c = 0; c < perChannel.size(); ++c) {
    const auto* l = dynamic_cast<const link::Link*>(perChannel[c].get());
    if (l == nullptr) continue;  // shared memory, a plug-in: no paths
    l->stats(&one);
    for (link::PathStats& s : one) {
      out->push_back(std::move(s));
      channels->push_back(static_cast<int>(c));
    }
  }
  return Status::ok();
}

}  // namespace mrd
