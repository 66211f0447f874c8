// Measured refinement of the model's choice; see trials.h.
#include "tuner/trials.h"

#include <algorithm>
#include <cmath>

namespace mrd::tuner {

bool Trials::applies(CollKind kind) {
  switch (kind) {
    case CollKind::kAllReduce:
    case CollKind::kAllGather:
    case CollKind::kReduceScatter:
    case CollKind::kBroadcast:
    case CollKind::kReduce:
    case CollKind::kAlltoAll:
    case CollKind::kGather:
    case CollKind::kScatter:
      return true;
    default:
      return false;
  }
}

std::vector<int> Trials::candidates(const std::vector<double>& costsUs, const TrialConfig& c) {
  std::vector<int> order;
  for (size_t i = 0; i < costsUs.size(); ++i) {
    if (costsUs[i] >= 0) order.push_back(static_cast<int>(i));
  }
  // Best predicted first; equal predictions keep registry order.
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return costsUs[static_cast<size_t>(a)] < costsUs[static_cast<size_t>(b)];
  });
  if (order.empty()) return order;
  const double limit = costsUs[static_cast<size_t>(order[0])] * c.withinFactor;
  size_t keep = 0;
  while (keep < order.size() && keep < static_cast<size_t>(std::max(1, c.maxCandidates)) &&
         costsUs[static_cast<size_t>(order[keep])] <= limit) {
    ++keep;
  }
  order.resize(std::max<size_t>(keep, 1));
  return order;
}

int Trials::winner(const std::vector<uint64_t>& summed, double margin) {
  int best = -1;
  for (size_t i = 0; i < summed.size(); ++i) {
    if (best < 0 || summed[i] < summed[static_cast<size_t>(best)]) best = static_cast<int>(i);
  }
  if (best > 0 && static_cast<double>(summed[static_cast<size_t>(best)]) * margin >=
                      static_cast<double>(summed[0])) {
    return 0;  // not clearly faster than the model's pick
  }
  return best;
}

uint64_t Trials::voteNs(const std::vector<double>& samplesUs) {
  // Untimed (every trial ran inside a group): counts as very slow.
  if (samplesUs.empty()) return kNoTimeNs;
  double sum = 0, worst = 0;
  for (double us : samplesUs) {
    sum += us;
    worst = std::max(worst, us);
  }
  size_t n = samplesUs.size();
  if (n >= 3) {
    sum -= worst;
    --n;
  }
  const double ns = sum / static_cast<double>(n) * 1e3;
  return static_cast<uint64_t>(std::min(std::max(ns, 0.0), static_cast<double>(kNoTimeNs)));
}

int Trials::indexOf(const std::vector<const Algorithm*>& algos, const Algorithm* a) {
  for (size_t i = 0; i < algos.size(); ++i) {
    if (algos[i] == a) return static_cast<int>(i);
  }
  return -1;
}

int Trials::pick(CollKind kind, size_t bytes, const std::vector<const Algorithm*>& algos,
                 const std::vector<double>& costsUs, int modelBest, TrialTicket* ticket,
                 bool* settled) {
  *ticket = TrialTicket{};
  *settled = true;
  if (!cfg_.enabled || bytes == 0 || !applies(kind)) return modelBest;
  auto it = byKey_.find(key(kind, bytes));
  if (it == byKey_.end()) {
    // A job with ever-new sizes would grow the table without end: past the
    // limit, new sizes take the model's choice.
    if (entries_.size() >= cfg_.maxSizes) return modelBest;
    Entry e{kind, bytes, {}, {}, {}, 0, nullptr};
    for (int i : candidates(costsUs, cfg_)) {
      e.cands.push_back(algos[static_cast<size_t>(i)]);
      e.predictedUs.push_back(costsUs[static_cast<size_t>(i)]);
    }
    if (e.cands.size() <= 1) e.winner = e.cands.empty() ? algos[static_cast<size_t>(modelBest)] : e.cands[0];
    e.samplesUs.resize(e.cands.size());
    it = byKey_.emplace(key(kind, bytes), static_cast<int>(entries_.size())).first;
    entries_.push_back(std::move(e));
  }
  Entry& e = entries_[static_cast<size_t>(it->second)];
  if (e.winner != nullptr) {
    int i = indexOf(algos, e.winner);
    return i < 0 ? modelBest : i;
  }
  *settled = false;
  const int ncand = static_cast<int>(e.cands.size());
  if (e.calls >= ncand * cfg_.rounds) {
    // Trials over, the agreement not yet run (the same size again inside
    // one group): the model's pick meanwhile.
    return modelBest;
  }
  // Candidates take turns, so a burst of machine noise hits all of them.
  const int c = e.calls % ncand;
  ++e.calls;
  ticket->entry = it->second;
  ticket->candidate = c;
  ticket->last = e.calls == ncand * cfg_.rounds;
  const int i = indexOf(algos, e.cands[static_cast<size_t>(c)]);
  return i < 0 ? modelBest : i;
}

void Trials::record(const TrialTicket& t, double us) {
  if (t.entry < 0) return;
  entries_[static_cast<size_t>(t.entry)].samplesUs[static_cast<size_t>(t.candidate)].push_back(us);
}

void Trials::votes(int entry, std::vector<uint64_t>* out) const {
  const Entry& e = entries_[static_cast<size_t>(entry)];
  out->clear();
  for (const std::vector<double>& s : e.samplesUs) out->push_back(voteNs(s));
}

std::string Trials::settle(int entry, const std::vector<uint64_t>& summed, int nranks) {
  Entry& e = entries_[static_cast<size_t>(entry)];
  int w = winner(summed, cfg_.margin);
  if (w < 0 || summed.size() != e.cands.size()) w = 0;
  e.winner = e.cands[static_cast<size_t>(w)];
  std::string line;
  for (size_t i = 0; i < e.cands.size(); ++i) {
    double meanUs = static_cast<double>(summed[i]) / 1e3 / std::max(1, nranks);
    line += " " + std::string(e.cands[i]->name()) + "=" +
            std::to_string(static_cast<int64_t>(std::lround(meanUs))) + "(" +
            std::to_string(static_cast<int64_t>(std::lround(e.predictedUs[i]))) + ")";
  }
  return std::string(collName(e.kind)) + " " + std::to_string(e.bytes) + " bytes: trials chose " +
         e.winner->name() + "; mean us over ranks (predicted):" + line;
}

}  // namespace mrd::tuner
