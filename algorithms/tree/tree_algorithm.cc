// The "tree" algorithm: allreduce, broadcast and reduce.
#include "tree/tree.h"

namespace mrd::algo {
namespace {

class TreeAlgorithm : public Algorithm {
 public:
  const char* name() const override { return "tree"; }
  bool supports(const CollRequest& req, const PlanContext&) const override {
    return req.kind == CollKind::kAllReduce || req.kind == CollKind::kBroadcast ||
           req.kind == CollKind::kReduce;
  }
  Status build(const CollRequest& req, const PlanContext& ctx, Schedule* out) const override {
    switch (req.kind) {
      case CollKind::kAllReduce: return buildTreeAllReduce(req, ctx, out);
      case CollKind::kBroadcast: return buildTreeBroadcast(req, ctx, out);
      case CollKind::kReduce: return buildTreeReduce(req, ctx, out);
      default: return internalError("tree cannot build this operation");
    }
  }
};

}  // namespace

std::unique_ptr<Algorithm> makeTreeAlgorithm() { return std::make_unique<TreeAlgorithm>(); }

}  // namespace mrd::algo
