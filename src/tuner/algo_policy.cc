// Parsing MRD_ALGO; see algo_policy.h.
#include "tuner/algo_policy.h"

#include <algorithm>
#include <cctype>

namespace mrd::tuner {
namespace {

std::string lowerTrim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  std::string out = s.substr(b, e - b);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return parts;
    start = at + 1;
  }
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

Status parseList(const std::string& clause, const std::string& text,
                 const std::vector<std::string>& known, AlgoRule* rule) {
  std::string list = lowerTrim(clause);
  rule->set = true;
  if (!list.empty() && list[0] == '^') {
    rule->exclude = true;
    list = list.substr(1);
  }
  for (const std::string& raw : split(list, ',')) {
    std::string name = lowerTrim(raw);
    if (name.empty()) {
      return invalidArgument("MRD_ALGO=\"" + text + "\": empty algorithm name in \"" + clause + "\"");
    }
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return invalidArgument("MRD_ALGO=\"" + text + "\": unknown algorithm \"" + name +
                             "\" (known: " + joined(known) + ")");
    }
    rule->names.push_back(name);
  }
  return Status::ok();
}

}  // namespace

bool AlgoRule::allows(const std::string& algo) const {
  if (!set) return true;
  bool listed = std::find(names.begin(), names.end(), algo) != names.end();
  return exclude ? !listed : listed;
}

const AlgoRule& AlgoPolicy::ruleFor(CollKind k, bool* strict) const {
  const AlgoRule& own = perColl[static_cast<size_t>(k)];
  *strict = own.set;
  return own.set ? own : fallback;
}

bool AlgoPolicy::empty() const {
  if (fallback.set) return false;
  for (const AlgoRule& r : perColl) {
    if (r.set) return false;
  }
  return true;
}

bool collKindFromName(const std::string& name, std::vector<CollKind>* kinds) {
  kinds->clear();
  if (name == "sendrecv") {
    *kinds = {CollKind::kSend, CollKind::kRecv};
    return true;
  }
  for (size_t i = 0; i < kCollKinds; ++i) {
    CollKind k = static_cast<CollKind>(i);
    if (k != CollKind::kSend && k != CollKind::kRecv && name == collName(k)) {
      kinds->push_back(k);
      return true;
    }
  }
  return false;
}

Status parseAlgoPolicy(const std::string& text, const std::vector<std::string>& knownAlgos,
                       AlgoPolicy* out) {
  *out = AlgoPolicy{};
  if (lowerTrim(text).empty()) return Status::ok();
  for (const std::string& clause : split(text, ';')) {
    if (lowerTrim(clause).empty()) continue;  // "ring;" is fine
    size_t colon = clause.find(':');
    if (colon == std::string::npos) {
      if (out->fallback.set) {
        return invalidArgument("MRD_ALGO=\"" + text + "\": more than one clause without a collective");
      }
      MRD_TRY(parseList(clause, text, knownAlgos, &out->fallback));
      continue;
    }
    std::string coll = lowerTrim(clause.substr(0, colon));
    std::vector<CollKind> kinds;
    if (!collKindFromName(coll, &kinds)) {
      return invalidArgument("MRD_ALGO=\"" + text + "\": unknown collective \"" + coll +
                             "\" (known: allreduce, broadcast, reduce, allgather, reducescatter, "
                             "alltoall, alltoallv, gather, scatter, sendrecv)");
    }
    AlgoRule rule;
    MRD_TRY(parseList(clause.substr(colon + 1), text, knownAlgos, &rule));
    for (CollKind k : kinds) {
      if (out->perColl[static_cast<size_t>(k)].set) {
        return invalidArgument("MRD_ALGO=\"" + text + "\": collective \"" + coll + "\" appears twice");
      }
      out->perColl[static_cast<size_t>(k)] = rule;
    }
  }
  return Status::ok();
}

}  // namespace mrd::tuner
