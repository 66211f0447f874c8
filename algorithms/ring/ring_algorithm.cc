// The "ring" algorithm: allreduce, allgather and reduce-scatter.
#include "ring/ring.h"

namespace mrd::algo {
namespace {

class RingAlgorithm : public Algorithm {
 public:
  const char* name() const override { return "ring"; }
  bool supports(const CollRequest& req, const PlanContext&) const override {
    return req.kind == CollKind::kAllReduce || req.kind == CollKind::kAllGather ||
           req.kind == CollKind::kReduceScatter;
  }
  Status build(const CollRequest& req, const PlanContext& ctx, Schedule* out) const override {
    switch (req.kind) {
      case CollKind::kAllReduce: return buildRingAllReduce(req, ctx, out);
      case CollKind::kAllGather: return buildRingAllGather(req, ctx, out);
      case CollKind::kReduceScatter: return buildRingReduceScatter(req, ctx, out);
      default: return internalError("ring cannot build this operation");
    }
  }
};

}  // namespace

std::unique_ptr<Algorithm> makeRingAlgorithm() { return std::make_unique<RingAlgorithm>(); }

}  // namespace mrd::algo
