#include "link_fault/path_report.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace mrdlinkfault {
namespace {

char StateLetter(mrdPathState_t s) {
  switch (s) {
    case mrdPathHealthy: return 'H';
    case mrdPathDegraded: return 'D';
    case mrdPathDown: return 'X';
  }
  return '?';
}

}  // namespace

std::string RailName(int rail) {
  return rail == kRelayRail ? "relay" : "rail " + std::to_string(rail);
}

const char* StateName(mrdPathState_t s) {
  switch (s) {
    case mrdPathHealthy: return "healthy";
    case mrdPathDegraded: return "degraded";
    case mrdPathDown: return "down";
  }
  return "?";
}

bool PathReport::LinkStats(int peer, std::vector<mrdPathStats_t>* stats, std::string* error) {
  stats->clear();
  int n = 0;
  mrdResult_t r = mrdCommGetLinkStats(comm_, peer, nullptr, &n);
  if (r == mrdSuccess && n > 0) {
    stats->resize(static_cast<size_t>(n));
    r = mrdCommGetLinkStats(comm_, peer, stats->data(), &n);
    stats->resize(static_cast<size_t>(std::max(n, 0)));
  }
  if (r != mrdSuccess) {
    char msg[160];
    std::snprintf(msg, sizeof(msg), "mrdCommGetLinkStats(peer %d): %s (%s)", peer,
                  mrdGetErrorString(r), mrdGetLastError(comm_));
    *error = msg;
    return false;
  }
  return true;
}

bool PathReport::RelayedBytes(std::map<int, uint64_t>* per_peer, uint64_t* all, std::string* error) {
  per_peer->clear();
  *all = 0;
  std::vector<mrdPathStats_t> stats;
  for (int peer = 0; peer < nranks_; ++peer) {
    if (peer == rank_) continue;
    if (!LinkStats(peer, &stats, error)) return false;
    for (const mrdPathStats_t& p : stats) {
      if (p.rail == kRelayRail) (*per_peer)[peer] += p.bytesSent;
      *all += p.bytesSent;
    }
  }
  return true;
}

bool PathReport::Sample(std::string* line) {
  line->clear();
  std::vector<mrdPathStats_t> stats;
  for (int peer = 0; peer < nranks_; ++peer) {
    if (peer == rank_) continue;
    if (!LinkStats(peer, &stats, line)) return false;
    if (stats.empty()) continue;
    // Per rail: bytes sent since the last sample, worst state, best RTT p50.
    RailBytes sent;
    std::map<int, mrdPathState_t> worst;
    std::map<int, double> rtt;
    uint64_t total = 0;
    for (const mrdPathStats_t& p : stats) {
      uint64_t& last = last_sent_[{peer, p.channel, p.rail}];
      const uint64_t delta = p.bytesSent >= last ? p.bytesSent - last : 0;
      last = p.bytesSent;
      resends_[{peer, p.channel, p.rail}] = p.resends;
      sent[p.rail] += delta;
      rail_bytes_total_[p.rail] += delta;
      total += delta;
      auto w = worst.find(p.rail);
      if (w == worst.end() || p.state > w->second) worst[p.rail] = p.state;
      if (p.rttP50Us > 0 && (rtt.count(p.rail) == 0 || p.rttP50Us < rtt[p.rail])) {
        rtt[p.rail] = p.rttP50Us;
      }
      const int first = p.nStateChanges > MRD_PATH_STATE_CHANGES
                            ? p.nStateChanges - MRD_PATH_STATE_CHANGES : 0;
      for (int k = first; k < p.nStateChanges; ++k) {
        const auto& c = p.stateChanges[k - first];
        changes_.insert({c.timeUs, peer, p.channel, p.rail, c.from, c.to});
      }
    }
    char buf[96];
    std::snprintf(buf, sizeof(buf), " | p%d", peer);
    *line += buf;
    for (const auto& [rail, bytes] : sent) {
      const double share = total > 0 ? 100.0 * static_cast<double>(bytes) / total : 0.0;
      const std::string name = rail == kRelayRail ? "relay" : "r" + std::to_string(rail);
      std::snprintf(buf, sizeof(buf), " %s %c %3.0f%% %5.0fus", name.c_str(), StateLetter(worst[rail]),
                    share, rtt.count(rail) ? rtt[rail] : 0.0);
      *line += buf;
    }
  }
  return true;
}

RailBytes PathReport::rail_resends() const {
  RailBytes out;
  for (const auto& [key, n] : resends_) out[std::get<2>(key)] += n;
  return out;
}

std::vector<std::string> ReactionLines(const std::set<StateChange>& changes,
                                       const std::vector<FaultEvent>& events) {
  std::vector<std::string> out;
  for (size_t i = 0; i < events.size(); ++i) {
    const FaultEvent& e = events[i];
    const bool repair = e.IsRepair();
    const uint64_t until = i + 1 < events.size() ? events[i + 1].mono_us : UINT64_MAX;
    // Only the rail the fault names ("... rail N ..."), when it names one
    // ("rail all", "cut hosts 0,1": every rail): a healthy rail's passing
    // state change is no reaction to it.
    int rail = 0;
    const bool one_rail = e.OneRail(&rail);
    const StateChange* first = nullptr;
    // The relay lane is no path on a rail: a link takes it up because its
    // paths are cut, so its state does not go the fault's way. Its first
    // change, whichever way, is reported on its own.
    const StateChange* relay = nullptr;
    for (const StateChange& c : changes) {
      if (c.mono_us < e.mono_us || c.mono_us >= until) continue;
      if (c.rail == kRelayRail) {
        if (relay == nullptr) relay = &c;
        continue;
      }
      if (first != nullptr || (one_rail && c.rail != rail)) continue;
      if ((c.to > c.from) != repair) first = &c;
    }
    // "... (applied in N us[, in effect after E us[, whole after W us]])":
    // how long the fault's own commands took, and when the kernel reported
    // the change, and all of it (a rate cut is several qdiscs).
    std::string took;
    const size_t at = e.what.rfind("(applied in ");
    if (at != std::string::npos) {
      const double us = std::strtod(e.what.c_str() + at + 12, nullptr);
      char t[64];
      std::snprintf(t, sizeof(t), "; the fault took %.1f ms to apply", us / 1e3);
      took = t;
    }
    const double effect_us = e.EffectUs(), whole_us = e.WholeUs();
    char buf[768];
    if (first == nullptr) {
      std::snprintf(buf, sizeof(buf), "%s: no path state change %s before the next event",
                    e.what.c_str(), repair ? "back towards healthy" : "towards down");
    } else {
      const double after_us = static_cast<double>(first->mono_us - e.mono_us);
      char effect[128] = "";
      if (effect_us >= 0 && whole_us >= 0) {
        std::snprintf(effect, sizeof(effect), ", %.1f ms after it took effect, %.1f ms after it was whole",
                      (after_us - effect_us) / 1e3, (after_us - whole_us) / 1e3);
      } else if (effect_us >= 0) {
        std::snprintf(effect, sizeof(effect), ", %.1f ms after it took effect", (after_us - effect_us) / 1e3);
      }
      std::snprintf(buf, sizeof(buf),
                    "%s: first reaction %.1f ms after it began%s (peer %d channel %d rail %d %s -> %s%s)",
                    e.what.c_str(), after_us / 1e3, effect, first->peer, first->channel, first->rail,
                    StateName(first->from), StateName(first->to), took.c_str());
    }
    std::string line = buf;
    if (relay != nullptr) {
      std::snprintf(buf, sizeof(buf), "; relay lane of peer %d channel %d %s -> %s %.1f ms after it began",
                    relay->peer, relay->channel, StateName(relay->from), StateName(relay->to),
                    static_cast<double>(relay->mono_us - e.mono_us) / 1e3);
      line += buf;
    }
    out.push_back(line);
  }
  return out;
}

}  // namespace mrdlinkfault
