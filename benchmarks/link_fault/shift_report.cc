#include "link_fault/shift_report.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace mrdlinkfault {
namespace {

// Where `key`'s value begins in a flat JSON line, or nullptr. Keys are
// looked for with their quotes and colon: a string value cannot hold that
// text unescaped, so only a key matches.
const char* FieldValue(const std::string& line, const char* key) {
  const std::string quoted = std::string("\"") + key + "\":";
  const size_t at = line.find(quoted);
  return at == std::string::npos ? nullptr : line.c_str() + at + quoted.size();
}

// A whole number ending at the field's end.
bool IntField(const std::string& line, const char* key, long long* value) {
  const char* p = FieldValue(line, key);
  if (p == nullptr || !(std::isdigit(static_cast<unsigned char>(*p)) || *p == '-')) return false;
  char* end = nullptr;
  errno = 0;
  *value = std::strtoll(p, &end, 10);
  return errno == 0 && end != p && (*end == ',' || *end == '}');
}

bool UintField(const std::string& line, const char* key, uint64_t* value) {
  const char* p = FieldValue(line, key);
  if (p == nullptr || !std::isdigit(static_cast<unsigned char>(*p))) return false;
  char* end = nullptr;
  errno = 0;
  *value = std::strtoull(p, &end, 10);
  return errno == 0 && (*end == ',' || *end == '}');
}

std::string Percent(double share) {
  if (share < 0) return "nothing handed";
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%.0f%%", 100.0 * share);
  return buf;
}

// ", Y ms after it took effect[, Z ms after it was whole]" for a time `ms`
// after the event began, when its line says when the kernel made the
// change (and all of it); "" when it does not.
std::string SinceEffect(const FaultEvent& e, double ms) {
  char buf[96] = "";
  if (e.EffectUs() >= 0 && e.WholeUs() >= 0) {
    std::snprintf(buf, sizeof(buf), ", %.1f ms after it took effect, %.1f ms after it was whole",
                  ms - e.EffectUs() / 1e3, ms - e.WholeUs() / 1e3);
  } else if (e.EffectUs() >= 0) {
    std::snprintf(buf, sizeof(buf), ", %.1f ms after it took effect", ms - e.EffectUs() / 1e3);
  }
  return buf;
}

double Share(const TrafficHistory& history, int rail, uint64_t from_us, uint64_t to_us) {
  uint64_t rail_bytes = 0, all_bytes = 0;
  history.Handed(rail, from_us, to_us, &rail_bytes, &all_bytes);
  return all_bytes > 0 ? static_cast<double>(rail_bytes) / static_cast<double>(all_bytes) : -1;
}

}  // namespace

bool ParseTrafficSample(const std::string& line, TrafficSample* out) {
  const char* event = FieldValue(line, "event");
  if (event == nullptr || std::strncmp(event, "\"sample\"", 8) != 0) return false;
  long long rank, peer, channel, path, rail;
  TrafficSample s;
  if (!UintField(line, "t_us", &s.t_us) || !IntField(line, "rank", &rank) ||
      !IntField(line, "peer", &peer) || !IntField(line, "path", &path) ||
      !IntField(line, "channel", &channel) || !IntField(line, "rail", &rail) ||
      !UintField(line, "sent_bytes", &s.sent_bytes)) {
    return false;
  }
  s.rank = static_cast<int>(rank);
  s.peer = static_cast<int>(peer);
  s.channel = static_cast<int>(channel);
  s.path = static_cast<int>(path);
  s.rail = static_cast<int>(rail);
  *out = s;
  return true;
}

bool ReadTrafficSamples(const std::string& path, int rank, uint64_t since_us,
                        std::vector<TrafficSample>* out, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": " + std::strerror(errno);
    return false;
  }
  TrafficSample s;
  for (std::string line; std::getline(in, line);) {
    if (ParseTrafficSample(line, &s) && s.rank == rank && s.t_us >= since_us) out->push_back(s);
  }
  if (in.bad()) {
    *error = path + ": read failed";
    return false;
  }
  return true;
}

TrafficHistory::TrafficHistory(const std::vector<TrafficSample>& samples) {
  for (const TrafficSample& s : samples) {
    Series& series = series_[std::make_tuple(s.peer, s.channel, s.path)];
    series.rail = s.rail;
    series.points.emplace_back(s.t_us, s.sent_bytes);
    times_.push_back(s.t_us);
  }
  // Threads of one process append in about time order, not exactly.
  for (auto& [key, series] : series_) std::sort(series.points.begin(), series.points.end());
  std::sort(times_.begin(), times_.end());
  times_.erase(std::unique(times_.begin(), times_.end()), times_.end());
}

uint64_t TrafficHistory::SentAt(const Series& s, uint64_t t_us) {
  const auto& pts = s.points;
  if (pts.empty()) return 0;
  // Before its first sample nothing is known of a path: no bytes counted.
  const auto next = std::upper_bound(pts.begin(), pts.end(), std::make_pair(t_us, UINT64_MAX));
  return next == pts.begin() ? pts.front().second : (next - 1)->second;
}

void TrafficHistory::Handed(int rail, uint64_t from_us, uint64_t to_us, uint64_t* rail_bytes,
                            uint64_t* all_bytes) const {
  *rail_bytes = *all_bytes = 0;
  for (const auto& [key, series] : series_) {
    const uint64_t to = SentAt(series, to_us), from = SentAt(series, from_us);
    const uint64_t bytes = to > from ? to - from : 0;
    *all_bytes += bytes;
    if (series.rail == rail) *rail_bytes += bytes;
  }
}

uint64_t TrafficHistory::FirstHanded(uint64_t from_us, uint64_t to_us) const {
  uint64_t first = 0;
  for (const auto& [key, series] : series_) {
    const auto& pts = series.points;
    auto it = std::upper_bound(pts.begin(), pts.end(), std::make_pair(from_us, UINT64_MAX));
    for (; it != pts.end() && it->first <= to_us && (first == 0 || it->first < first); ++it) {
      if (it != pts.begin() && it->second > (it - 1)->second) {
        first = it->first;
        break;
      }
    }
  }
  return first;
}

uint64_t TrafficHistory::LastHanded(int rail, uint64_t from_us, uint64_t to_us) const {
  uint64_t last = 0;
  for (const auto& [key, series] : series_) {
    if (series.rail != rail) continue;
    const auto& pts = series.points;
    for (auto it = std::upper_bound(pts.begin(), pts.end(), std::make_pair(from_us, UINT64_MAX));
         it != pts.end() && it->first <= to_us; ++it) {
      if (it != pts.begin() && it->second > (it - 1)->second) last = std::max(last, it->first);
    }
  }
  return last;
}

TrafficShift FindTrafficShift(const TrafficHistory& history, int rail, bool repair, uint64_t from_us,
                              uint64_t until_us) {
  TrafficShift shift;
  // The rail's share of what was handed in (a, b]: whether it says the
  // rail was off (on, after a repair), and whether enough was handed to say.
  const auto shifted = [&](uint64_t a, uint64_t b) {
    uint64_t rail_bytes = 0, all_bytes = 0;
    history.Handed(rail, a, b, &rail_bytes, &all_bytes);
    if (all_bytes < kShiftMinBytes) return false;
    const double share = static_cast<double>(rail_bytes) / static_cast<double>(all_bytes);
    return repair ? share >= kShiftShare : share <= kShiftShare;
  };
  const std::vector<uint64_t>& times = history.times();
  const uint64_t last = times.empty() ? 0 : times.back();
  for (auto it = std::lower_bound(times.begin(), times.end(), from_us); it != times.end() && *it < until_us;
       ++it) {
    const uint64_t t = *it;
    const bool window = repair ? t >= kShiftWindowUs && shifted(t - kShiftWindowUs, t)
                               : t + kShiftWindowUs <= last && shifted(t, t + kShiftWindowUs);
    if (window && shifted(t, t + kShiftHoldUs)) {
      shift.found = true;
      // (A window that qualifies holds bytes.)
      shift.at_us = repair ? t : history.FirstHanded(t, t + kShiftWindowUs);
      shift.share_after = Share(history, rail, t, t + kShiftHoldUs);
      if (!repair) shift.rail_last_us = history.LastHanded(rail, from_us, t + kShiftWindowUs);
      break;
    }
  }
  const uint64_t before = from_us > kShiftHoldUs ? from_us - kShiftHoldUs : 0;
  shift.share_before = Share(history, rail, before, from_us);
  if (!shift.found) shift.share_after = Share(history, rail, from_us, from_us + kShiftHoldUs);
  return shift;
}

std::vector<std::string> ShiftLines(const TrafficHistory& history, const std::vector<FaultEvent>& events) {
  std::vector<std::string> out;
  for (size_t i = 0; i < events.size(); ++i) {
    const FaultEvent& e = events[i];
    int rail = 0;
    if (!e.OneRail(&rail)) continue;  // every rail, or none: no other rail to shift to
    const bool repair = e.IsRepair();
    uint64_t until = e.mono_us + kShiftSearchUs;
    if (i + 1 < events.size()) until = std::min(until, std::max(events[i + 1].mono_us, e.mono_us));
    const TrafficShift shift = FindTrafficShift(history, rail, repair, e.mono_us, until);
    const int share_pct = static_cast<int>(std::lround(100 * kShiftShare));
    char buf[704];
    if (shift.found) {
      const double after_ms = static_cast<double>(shift.at_us - e.mono_us) / 1e3;
      const std::string effect = SinceEffect(e, after_ms);
      // The spans judged: from the shift on; after a repair, up to it and on.
      const double window_ms = kShiftWindowUs / 1e3, hold_ms = kShiftHoldUs / 1e3;
      char span[96];
      if (repair) {
        std::snprintf(span, sizeof(span), "over the %.0f ms before and the %.0f ms after", window_ms, hold_ms);
      } else {
        std::snprintf(span, sizeof(span), "over %.0f ms and %.0f ms", window_ms, hold_ms);
      }
      // Where the rail's traffic stopped: its last bytes up to then.
      char stop[160] = "";
      if (!repair && shift.rail_last_us != 0) {
        const double last_ms = (static_cast<double>(shift.rail_last_us) - static_cast<double>(e.mono_us)) / 1e3;
        std::snprintf(stop, sizeof(stop), "; its last bytes at +%.1f ms%s", last_ms,
                      SinceEffect(e, last_ms).c_str());
      } else if (!repair) {
        std::snprintf(stop, sizeof(stop), "; no bytes on it from the fault on");
      }
      // A rate cut shows only under traffic: when the rank handed nothing
      // for a while after the fault (busy with other work), the shift
      // cannot come before its first bytes after it.
      char first[112] = "";
      const uint64_t whole_us = e.mono_us + static_cast<uint64_t>(std::max<int64_t>(e.WholeUs(), 0));
      const uint64_t first_us = repair ? 0 : history.FirstHanded(whole_us, until);
      if (first_us != 0 && first_us <= shift.at_us) {
        std::snprintf(first, sizeof(first), "; first bytes handed once it was whole at +%.1f ms, the shift %.1f ms after them",
                      (static_cast<double>(first_us) - static_cast<double>(e.mono_us)) / 1e3,
                      static_cast<double>(shift.at_us - first_us) / 1e3);
      }
      std::snprintf(buf, sizeof(buf),
                    ": rail %d handed %s%d%% of the bytes%s %s +%.1f ms after the %s began%s (%s; share in "
                    "the %.0f ms before: %s, from then: %s%s%s)",
                    rail, repair ? ">=" : "<=", share_pct, repair ? " again" : "", repair ? "by" : "from",
                    after_ms, repair ? "repair" : "fault", effect.c_str(), span, hold_ms,
                    Percent(shift.share_before).c_str(), Percent(shift.share_after).c_str(), stop, first);
    } else {
      // (Or until the log ends.)
      const uint64_t last = history.times().empty() ? 0 : history.times().back();
      const uint64_t searched_until = std::max(std::min(until, last), e.mono_us);
      char what[64];
      if (repair) {
        std::snprintf(what, sizeof(what), "not handed >=%d%% of the bytes again", share_pct);
      } else {
        std::snprintf(what, sizeof(what), "no shift");
      }
      std::snprintf(buf, sizeof(buf),
                    ": rail %d: %s within %.0f ms (share in the %.0f ms before: %s, after it began: %s)",
                    rail, what, static_cast<double>(searched_until - e.mono_us) / 1e3, kShiftHoldUs / 1e3,
                    Percent(shift.share_before).c_str(), Percent(shift.share_after).c_str());
    }
    out.push_back(e.what + buf);
  }
  return out;
}

}  // namespace mrdlinkfault
