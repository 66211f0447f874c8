#include "hang_summary.h"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

namespace mrdrun {
namespace {

std::string joinRanks(const std::set<int>& ranks) {
  std::string s;
  for (int r : ranks) s += (s.empty() ? "" : ", ") + std::to_string(r);
  return s;
}

}  // namespace

void HangSummary::add(const std::string& line) {
  static const std::regex waiting(
      R"(^(\d+)(:s)? rank (\d+): hang report: (operation \d+ \(.*\)) on communicator (\S+) without progress for (\d+) ms: (.*)$)");
  static const std::regex idle(
      R"(^(\d+)(:s)? rank (\d+): hang report: no operation in flight on communicator (\S+) .*$)");
  static const std::regex peer(R"((?:from|to|for) peer (\d+))");
  std::smatch m;
  Report r;
  if (std::regex_match(line, m, waiting)) {
    r.jobRank = std::stoi(m[1]);
    signalable_ = signalable_ || m[2].matched;
    r.commRank = std::stoi(m[3]);
    r.op = m[4];
    r.comm = m[5];
    r.waiting = true;
    r.waitedMs = std::stol(m[6]);
    const std::string detail = m[7];
    std::smatch p;
    if (std::regex_search(detail, p, peer)) r.peer = std::stoi(p[1]);
  } else if (std::regex_match(line, m, idle)) {
    r.jobRank = std::stoi(m[1]);
    signalable_ = signalable_ || m[2].matched;
    r.commRank = std::stoi(m[3]);
    r.comm = m[4];
  } else {
    unparsed_.push_back(line);
    return;
  }
  for (Report& old : reports_) {
    if (old.jobRank == r.jobRank && old.comm == r.comm) {
      old = r;
      return;
    }
  }
  reports_.push_back(r);
}

std::vector<std::string> HangSummary::take(int np) {
  std::vector<std::string> out;
  std::sort(reports_.begin(), reports_.end(), [](const Report& a, const Report& b) {
    return a.jobRank != b.jobRank ? a.jobRank < b.jobRank : a.comm < b.comm;
  });
  // Per communicator: its ranks' job ranks, where they reported.
  std::map<std::string, std::map<int, int>> jobOf;
  std::set<int> answered;
  for (const Report& r : reports_) {
    jobOf[r.comm][r.commRank] = r.jobRank;
    answered.insert(r.jobRank);
  }
  auto jobRankOf = [&](const std::string& comm, int commRank) {
    auto& m = jobOf[comm];
    auto it = m.find(commRank);
    if (it != m.end()) return it->second;
    // Not heard from: the job's own communicator numbers ranks as the job does.
    bool identity = true;
    for (auto& [c, j] : m) identity = identity && c == j;
    return identity ? commRank : -1;
  };
  auto find = [&](int jobRank, const std::string& comm) -> const Report* {
    for (const Report& r : reports_) {
      if (r.jobRank == jobRank && r.comm == comm) return &r;
    }
    return nullptr;
  };
  out.push_back("hang report from " + std::to_string(answered.size()) + " of " + std::to_string(np) + " ranks:");
  for (const Report& r : reports_) {
    std::string s = "  rank " + std::to_string(r.jobRank) + ": ";
    if (!r.waiting) {
      s += "no operation in flight (communicator " + r.comm + ")";
    } else {
      s += r.op + " on communicator " + r.comm + ", " + std::to_string(r.waitedMs) + " ms without progress";
      if (r.peer >= 0) {
        const int j = jobRankOf(r.comm, r.peer);
        s += j >= 0 ? ", waits on rank " + std::to_string(j)
                    : ", waits on rank " + std::to_string(r.peer) + " of that communicator";
      }
    }
    out.push_back(s);
  }
  std::set<int> silent;
  for (int r = 0; r < np; ++r) {
    if (answered.count(r) == 0) silent.insert(r);
  }
  if (!silent.empty()) out.push_back("  no report from rank(s) " + joinRanks(silent));
  for (const std::string& u : unparsed_) out.push_back("  " + u);
  // Follow each waiting rank's chain of waits to where it ends: a rank not
  // waiting in that communicator (the culprit), or a cycle.
  std::map<int, std::string> culprits;  // job rank -> why
  std::set<int> cycle;
  for (const Report& start : reports_) {
    if (!start.waiting || start.peer < 0) continue;
    std::vector<int> seen = {start.jobRank};
    const Report* at = &start;
    while (true) {
      const int next = jobRankOf(at->comm, at->peer);
      if (next < 0) break;
      if (std::find(seen.begin(), seen.end(), next) != seen.end()) {
        auto from = std::find(seen.begin(), seen.end(), next);
        cycle.insert(from, seen.end());
        break;
      }
      const Report* nr = find(next, at->comm);
      if (nr == nullptr || !nr->waiting || nr->peer < 0) {
        culprits[next] = nr == nullptr      ? "sent no report"
                         : !nr->waiting     ? "no operation in flight"
                                            : "waiting, on no peer named";
        break;
      }
      seen.push_back(next);
      at = nr;
    }
  }
  for (const auto& [rank, why] : culprits) {
    out.push_back("the others wait on rank " + std::to_string(rank) + " (" + why + ")");
  }
  if (!cycle.empty()) out.push_back("ranks " + joinRanks(cycle) + " wait on each other");
  reports_.clear();
  unparsed_.clear();
  signalable_ = false;
  return out;
}

}  // namespace mrdrun
