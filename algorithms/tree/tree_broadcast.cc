// Tree broadcast: each half of the buffer flows from the root down its own
// tree (the root feeds the top of tree t of a double binary tree over the
// other ranks), slice by slice, so every rank forwards at most one half.
// Small buffers take tree 0 only.
#include "common/partition.h"
#include "tree/tree.h"
#include "tree/tree_shape.h"

namespace mrd::algo {

Status buildTreeBroadcast(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const int n = ctx.nranks, r = ctx.rank;
  const bool isRoot = r == req.root;
  const size_t ts = dataTypeSize(req.type);
  const size_t bytes = req.count * ts;
  char* output = static_cast<char*>(req.recvbuf);
  if (isRoot) out->copy(output, req.sendbuf, bytes, {});
  if (n == 1) return Status::ok();
  const char* source = isRoot ? static_cast<const char*>(req.sendbuf) : output;

  const int ntrees = treesFor(bytes, ctx);
  Range parts[2];
  for (int t = 0; t < ntrees; ++t) {
    parts[t] = evenPart(req.count, static_cast<size_t>(ntrees), static_cast<size_t>(t));
  }
  TreeLinks links[2] = {rootedTreeLinks(n, req.root, 0, r), rootedTreeLinks(n, req.root, 1, r)};
  const size_t ns = sliceCount(parts[0].count, ts, ctx);  // parts[0] is the larger
  for (size_t k = 0; k < ns; ++k) {
    for (int t = 0; t < ntrees; ++t) {
      Range sl = evenPart(parts[t].count, ns, k);
      const size_t off = (parts[t].begin + sl.begin) * ts, len = sl.count * ts;
      const int ch = treeChannel(ctx, t);
      int got = isRoot ? -1 : out->recv(links[t].parent, ch, output + off, len, {});
      for (int child : links[t].child) {
        if (child >= 0) out->send(child, ch, source + off, len, {got});
      }
    }
  }
  return Status::ok();
}

}  // namespace mrd::algo
