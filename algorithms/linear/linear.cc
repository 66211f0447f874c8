// Linear gather and scatter: the root talks to every other rank directly,
// all transfers posted at once.
#include "common/partition.h"

namespace mrd::algo {
namespace {

Status buildLinear(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const int n = ctx.nranks, r = ctx.rank;
  const size_t block = req.count * dataTypeSize(req.type);
  const bool gather = req.kind == CollKind::kGather;
  const char* input = static_cast<const char*>(req.sendbuf);
  char* output = static_cast<char*>(req.recvbuf);
  if (r != req.root) {
    if (gather) out->send(req.root, 0, input, block, {});
    else out->recv(req.root, 0, output, block, {});
    return Status::ok();
  }
  for (int i = 0; i < n; ++i) {
    const size_t off = static_cast<size_t>(i) * block;
    if (i == r) {
      if (gather) out->copy(output + off, input, block, {});
      else out->copy(output, input + off, block, {});
    } else if (gather) {
      out->recv(i, 0, output + off, block, {});
    } else {
      out->send(i, 0, input + off, block, {});
    }
  }
  return Status::ok();
}

class LinearAlgorithm : public Algorithm {
 public:
  const char* name() const override { return "linear"; }
  bool supports(const CollRequest& req, const PlanContext&) const override {
    return req.kind == CollKind::kGather || req.kind == CollKind::kScatter;
  }
  Status build(const CollRequest& req, const PlanContext& ctx, Schedule* out) const override {
    return buildLinear(req, ctx, out);
  }
};

}  // namespace

std::unique_ptr<Algorithm> makeLinearAlgorithm() { return std::make_unique<LinearAlgorithm>(); }

}  // namespace mrd::algo
