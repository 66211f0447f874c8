#include "chain/chain.h"

namespace mrd::algo {
namespace {

class ChainAlgorithm : public Algorithm {
 public:
  const char* name() const override { return "chain"; }
  bool supports(const CollRequest& req, const PlanContext&) const override {
    return req.kind == CollKind::kBroadcast || req.kind == CollKind::kReduce;
  }
  Status build(const CollRequest& req, const PlanContext& ctx, Schedule* out) const override {
    return req.kind == CollKind::kBroadcast ? buildChainBroadcast(req, ctx, out)
                                            : buildChainReduce(req, ctx, out);
  }
};

}  // namespace

std::unique_ptr<Algorithm> makeChainAlgorithm() { return std::make_unique<ChainAlgorithm>(); }

}  // namespace mrd::algo
