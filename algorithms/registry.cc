// The one list of built-in algorithms and the default selector.
#include "bruck/bruck.h"
#include "chain/chain.h"
#include "core/algorithm.h"
#include "hierarchical/hierarchical.h"
#include "pairwise/pairwise.h"
#include "recursive/recursive.h"
#include "ring/ring.h"
#include "tree/tree.h"

namespace mrd {
namespace algo {
std::unique_ptr<Algorithm> makeLinearAlgorithm();
std::unique_ptr<Algorithm> makeDirectAlgorithm();
std::unique_ptr<Algorithm> makeBoardAlgorithm();
}

void registerBuiltinAlgorithms(AlgorithmRegistry* registry) {
  // Order breaks ties: when the tuner predicts equal times (or has no model
  // for any candidate), the earlier algorithm runs.
  registry->add(algo::makeDirectAlgorithm());
  registry->add(algo::makeRingAlgorithm());
  registry->add(algo::makeChainAlgorithm());
  registry->add(algo::makePairwiseAlgorithm());
  registry->add(algo::makeLinearAlgorithm());
  registry->add(algo::makeBruckAlgorithm());
  registry->add(algo::makeRecursiveDoublingAlgorithm());
  registry->add(algo::makeRabenseifnerAlgorithm());
  registry->add(algo::makeTreeAlgorithm());
  registry->add(algo::makeHierarchicalAlgorithm());
  registry->add(algo::makeBoardAlgorithm());
}

const AlgorithmRegistry& builtinAlgorithms() {
  static const AlgorithmRegistry* registry = [] {
    auto* r = new AlgorithmRegistry();
    registerBuiltinAlgorithms(r);
    return r;
  }();
  return *registry;
}

const Algorithm* AlgorithmRegistry::find(const std::string& name) const {
  for (const auto& a : algos_) {
    if (name == a->name()) return a.get();
  }
  return nullptr;
}

std::vector<std::string> AlgorithmRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& a : algos_) out.push_back(a->name());
  return out;
}

}  // namespace mrd
