// MRD_ALGO: which algorithms the tuner may choose, per collective, in
// NCCL 2.24's syntax:
//
//   "ring"                        every collective: ring where ring applies
//   "ring,tree"                   a list: the tuner picks among them
//   "^tree"                       everything except tree
//   "ring;allreduce:tree,ring"    a default clause, then per-collective ones
//   "allreduce:^direct;alltoall:bruck"
//
// Clauses are separated by ';'. A clause with "coll:" applies to that
// collective only (allreduce, broadcast, reduce, allgather, reducescatter,
// alltoall, alltoallv, gather, scatter, sendrecv); one without applies to
// every collective that has no clause of its own. Names are case
// insensitive. An unknown algorithm or collective is an error, reported at
// communicator init.
//
// A default clause only narrows collectives it can serve: "tree" leaves
// alltoall to the tuner. A per-collective clause is strict: its algorithms
// must implement that collective, and a call none of them can run is an
// error, except that a clause listing "board" leaves the calls the board
// cannot take (too large, no board, several collectives) to the tuner.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "core/coll_request.h"
#include "core/status.h"

namespace mrd::tuner {

constexpr size_t kCollKinds = static_cast<size_t>(CollKind::kBarrier) + 1;

struct AlgoRule {
  bool set = false;       // false: no constraint
  bool exclude = false;   // "^a,b": everything but these
  std::vector<std::string> names;
  bool allows(const std::string& algo) const;
};

struct AlgoPolicy {
  AlgoRule fallback;                        // the clause without a collective
  std::array<AlgoRule, kCollKinds> perColl;  // explicit clauses
  // The rule in force for a collective and whether it is strict.
  const AlgoRule& ruleFor(CollKind k, bool* strict) const;
  bool empty() const;
};

// knownAlgos: the registered algorithm names (errors list them).
Status parseAlgoPolicy(const std::string& text, const std::vector<std::string>& knownAlgos,
                       AlgoPolicy* out);

// "allreduce" -> kAllReduce; "sendrecv" covers send and recv. False if unknown.
bool collKindFromName(const std::string& name, std::vector<CollKind>* kinds);

}  // namespace mrd::tuner
