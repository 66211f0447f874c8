// The "hierarchical" algorithm's entry point and its view of the layout.
#include "common/partition.h"
#include "core/datatype.h"
#include "hierarchical/hierarchical.h"

namespace mrd::algo {

HostView::HostView(const PlanContext& ctx)
    : layout(*ctx.layout),
      rank(ctx.rank),
      host(ctx.layout->hostOf[static_cast<size_t>(ctx.rank)]),
      local(ctx.layout->localRank[static_cast<size_t>(ctx.rank)]),
      nhosts(ctx.layout->nhosts) {}

std::vector<int> HostView::rail(int i) const {
  std::vector<int> r;
  for (int h = 0; h < nhosts; ++h) r.push_back(layout.rankOn(h, i));
  return r;
}

std::vector<int> HostView::leaders() const { return rail(0); }

std::vector<int> HostView::rsOrder() const {
  std::vector<int> o;
  for (int t = 1; t <= nhosts; ++t) o.push_back(positiveMod(host - t, nhosts));
  return o;
}

std::vector<int> HostView::agOrder() const {
  std::vector<int> o;
  for (int t = 0; t < nhosts; ++t) o.push_back(positiveMod(host - t, nhosts));
  return o;
}

namespace {

class HierarchicalAlgorithm : public Algorithm {
 public:
  const char* name() const override { return "hierarchical"; }
  bool supports(const CollRequest& req, const PlanContext& ctx) const override {
    const topo::JobLayout* l = ctx.layout;
    // Worth it only with several hosts, one of them running several ranks.
    if (l == nullptr || l->nranks != ctx.nranks || l->nhosts < 2 || l->maxLocalSize() < 2) {
      return false;
    }
    switch (req.kind) {
      case CollKind::kAllReduce:
      case CollKind::kAllGather:
      case CollKind::kReduceScatter:
      case CollKind::kBroadcast:
        return true;
      case CollKind::kAlltoAll:
        return req.count * dataTypeSize(req.type) <= kHierAlltoAllMaxBlock;
      default:
        return false;
    }
  }
  Status build(const CollRequest& req, const PlanContext& ctx, Schedule* out) const override {
    switch (req.kind) {
      case CollKind::kAllReduce: return buildHierAllReduce(req, ctx, out);
      case CollKind::kAllGather: return buildHierAllGather(req, ctx, out);
      case CollKind::kReduceScatter: return buildHierReduceScatter(req, ctx, out);
      case CollKind::kBroadcast: return buildHierBroadcast(req, ctx, out);
      case CollKind::kAlltoAll: return buildHierAlltoAll(req, ctx, out);
      default: return internalError("hierarchical cannot build this operation");
    }
  }
};

}  // namespace

std::unique_ptr<Algorithm> makeHierarchicalAlgorithm() {
  return std::make_unique<HierarchicalAlgorithm>();
}

}  // namespace mrd::algo
