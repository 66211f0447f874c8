// mrdCommGetLinkStats: the C view of link::PathStats.
#include <cstring>

#include "core/api_guard.h"
#include "core/comm.h"

namespace {

mrdPathState_t toC(mrd::probe::PathState s) {
  switch (s) {
    case mrd::probe::PathState::kDegraded:
      return mrdPathDegraded;
    case mrd::probe::PathState::kDown:
      return mrdPathDown;
    default:
      return mrdPathHealthy;
  }
}

void copyText(char* dst, size_t cap, const std::string& src) {
  std::strncpy(dst, src.c_str(), cap - 1);
  dst[cap - 1] = '\0';
}

}  // namespace

mrdResult_t mrdCommGetLinkStats(mrdComm_t comm, int peer, mrdPathStats_t* stats, int* n) {
  using namespace mrd;
  return api::guardedComm(comm, "mrdCommGetLinkStats", [&] {
    if (comm == nullptr || !comm->valid()) return invalidArgument("mrdCommGetLinkStats: invalid comm");
    if (n == nullptr) return invalidArgument("mrdCommGetLinkStats: n is NULL");
    if (stats != nullptr && *n < 0) return invalidArgument("mrdCommGetLinkStats: *n is negative");
    std::vector<link::PathStats> paths;
    std::vector<int> channels;
    MRD_TRY(comm->linkStats(peer, &paths, &channels));
    const size_t room = stats == nullptr ? 0 : static_cast<size_t>(*n);
    for (size_t i = 0; i < paths.size() && i < room; ++i) {
      const link::PathStats& p = paths[i];
      mrdPathStats_t& o = stats[i];
      std::memset(&o, 0, sizeof o);
      o.channel = channels[i];
      o.rail = p.rail;
      copyText(o.localNic, sizeof o.localNic, p.localNic);
      copyText(o.remoteNic, sizeof o.remoteNic, p.remoteNic);
      o.state = toC(p.state);
      o.rttP50Us = p.rttP50Us;
      o.rttP99Us = p.rttP99Us;
      o.goodputBytesPerSec = p.goodputBps;
      o.bytesSent = p.bytesSent;
      o.chunksSent = p.chunksSent;
      o.resends = p.resends;
      o.bytesReceived = p.bytesReceived;
      o.nStateChanges = static_cast<int>(p.transitions.size());
      const size_t first = p.transitions.size() > MRD_PATH_STATE_CHANGES
                               ? p.transitions.size() - MRD_PATH_STATE_CHANGES
                               : 0;
      for (size_t k = first; k < p.transitions.size(); ++k) {
        auto& t = o.stateChanges[k - first];
        t.timeUs = p.transitions[k].atNs / 1000;
        t.from = toC(p.transitions[k].from);
        t.to = toC(p.transitions[k].to);
      }
    }
    *n = static_cast<int>(paths.size());
    return Status::ok();
  });
}
