// The "recursive_doubling" (allreduce, allgather) and "rabenseifner"
// (allreduce, reduce-scatter) algorithms. Any rank count, any count.
#include "recursive/recursive.h"

namespace mrd::algo {
namespace {

class RecursiveDoublingAlgorithm : public Algorithm {
 public:
  const char* name() const override { return "recursive_doubling"; }
  bool supports(const CollRequest& req, const PlanContext&) const override {
    return req.kind == CollKind::kAllReduce || req.kind == CollKind::kAllGather;
  }
  Status build(const CollRequest& req, const PlanContext& ctx, Schedule* out) const override {
    switch (req.kind) {
      case CollKind::kAllReduce: return buildRecursiveDoublingAllReduce(req, ctx, out);
      case CollKind::kAllGather: return buildRecursiveDoublingAllGather(req, ctx, out);
      default: return internalError("recursive_doubling cannot build this operation");
    }
  }
};

class RabenseifnerAlgorithm : public Algorithm {
 public:
  const char* name() const override { return "rabenseifner"; }
  bool supports(const CollRequest& req, const PlanContext&) const override {
    return req.kind == CollKind::kAllReduce || req.kind == CollKind::kReduceScatter;
  }
  Status build(const CollRequest& req, const PlanContext& ctx, Schedule* out) const override {
    switch (req.kind) {
      case CollKind::kAllReduce: return buildRabenseifnerAllReduce(req, ctx, out);
      case CollKind::kReduceScatter: return buildRabenseifnerReduceScatter(req, ctx, out);
      default: return internalError("rabenseifner cannot build this operation");
    }
  }
};

}  // namespace

std::unique_ptr<Algorithm> makeRecursiveDoublingAlgorithm() {
  return std::make_unique<RecursiveDoublingAlgorithm>();
}

std::unique_ptr<Algorithm> makeRabenseifnerAlgorithm() {
  return std::make_unique<RabenseifnerAlgorithm>();
}

}  // namespace mrd::algo
