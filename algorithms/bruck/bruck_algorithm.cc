// The "bruck" algorithm: alltoall and allgather (not alltoallv).
#include "bruck/bruck.h"

namespace mrd::algo {
namespace {

class BruckAlgorithm : public Algorithm {
 public:
  const char* name() const override { return "bruck"; }
  bool supports(const CollRequest& req, const PlanContext&) const override {
    return req.kind == CollKind::kAlltoAll || req.kind == CollKind::kAllGather;
  }
  Status build(const CollRequest& req, const PlanContext& ctx, Schedule* out) const override {
    switch (req.kind) {
      case CollKind::kAlltoAll: return buildBruckAlltoAll(req, ctx, out);
      case CollKind::kAllGather: return buildBruckAllGather(req, ctx, out);
      default: return internalError("bruck cannot build this operation");
    }
  }
};

}  // namespace

std::unique_ptr<Algorithm> makeBruckAlgorithm() { return std::make_unique<BruckAlgorithm>(); }

}  // namespace mrd::algo
