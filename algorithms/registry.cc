// The one list of built-in algorithms and the default selector.
#include "chain/chain.h"
#include "core/algorithm.h"
#include "pairwise/pairwise.h"
#include "ring/ring.h"

namespace mrd {
namespace algo {
std::unique_ptr<Algorithm> makeLinearAlgorithm();
std::unique_ptr<Algorithm> makeDirectAlgorithm();
}

void registerBuiltinAlgorithms(AlgorithmRegistry* registry) {
  // Order matters: without MRD_ALGO the first that supports a request runs it.
  registry->add(algo::makeDirectAlgorithm());
  registry->add(algo::makeRingAlgorithm());
  registry->add(algo::makeChainAlgorithm());
  registry->add(algo::makePairwiseAlgorithm());
  registry->add(algo::makeLinearAlgorithm());
}

const AlgorithmRegistry& builtinAlgorithms() {
  static const AlgorithmRegistry* registry = [] {
    auto* r = new AlgorithmRegistry();
    registerBuiltinAlgorithms(r);
    return r;
  }();
  return *registry;
}

const Algorithm* AlgorithmRegistry::select(const CollRequest& req, const PlanContext& ctx,
                                           const std::string& forced) const {
  if (!forced.empty()) {
    const Algorithm* a = find(forced);
    if (a != nullptr && a->supports(req, ctx)) return a;
  }
  for (const auto& a : algos_) {
    if (a->supports(req, ctx)) return a.get();
  }
  return nullptr;
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
