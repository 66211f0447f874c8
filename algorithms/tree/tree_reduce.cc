// Tree reduce: each half of the buffer is summed up its own tree (tree t of
// a double binary tree over the other ranks, whose top feeds the root),
// slice by slice. Partial sums wait in rotating slots until sent on; the
// root reduces straight into recvbuf and divides there for Avg. Small
// buffers take tree 0 only.
#include <memory>

#include "common/partition.h"
#include "tree/tree.h"
#include "tree/tree_shape.h"

namespace mrd::algo {

Status buildTreeReduce(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const int n = ctx.nranks, r = ctx.rank;
  const bool isRoot = r == req.root;
  const size_t ts = dataTypeSize(req.type);
  const size_t bytes = req.count * ts;
  char* output = static_cast<char*>(req.recvbuf);
  const ReductionInput in = prepareRootedReductionInput(req, ctx, out);
  const char* input = in.data;
  const int inputReady = in.ready;
  if (n == 1) {
    reduceOnOneRank(req, in, output, out);
    return Status::ok();
  }

  const int ntrees = treesFor(bytes, ctx);
  Range parts[2];
  for (int t = 0; t < ntrees; ++t) {
    parts[t] = evenPart(req.count, static_cast<size_t>(ntrees), static_cast<size_t>(t));
  }
  TreeLinks links[2] = {rootedTreeLinks(n, req.root, 0, r), rootedTreeLinks(n, req.root, 1, r)};
  std::unique_ptr<SlotRing> recvSlots[2][2], accSlots[2];
  for (int t = 0; t < ntrees; ++t) {
    for (int c = 0; c < 2; ++c) {
      if (links[t].child[c] >= 0) recvSlots[t][c] = std::make_unique<SlotRing>(ctx, ts);
    }
    if (!isRoot && !links[t].isLeaf()) accSlots[t] = std::make_unique<SlotRing>(ctx, ts);
  }
  const size_t ns = sliceCount(parts[0].count, ts, ctx);  // parts[0] is the larger
  for (size_t k = 0; k < ns; ++k) {
    for (int t = 0; t < ntrees; ++t) {
      Range sl = evenPart(parts[t].count, ns, k);
      const size_t off = (parts[t].begin + sl.begin) * ts, len = sl.count * ts;
      const int ch = treeChannel(ctx, t);
      if (links[t].isLeaf()) {
        out->send(links[t].parent, ch, input + off, len, {inputReady});
        continue;
      }
      int accFree = -1;
      char* dst = isRoot ? output + off : accSlots[t]->next(&accFree);
      const char* acc = input + off;
      int accReady = inputReady;
      for (int c = 0; c < 2; ++c) {
        const int child = links[t].child[c];
        if (child < 0) continue;
        int slotFree = -1;
        char* slot = recvSlots[t][c]->next(&slotFree);
        int got = out->recv(child, ch, slot, len, {slotFree});
        accReady = out->reduce(dst, acc, slot, sl.count, {got, accReady, accFree});
        recvSlots[t][c]->setUser(accReady);
        acc = dst;
      }
      if (isRoot) {
        divideOutput(req, dst, sl.count, accReady, out);
      } else {
        accSlots[t]->setUser(out->send(links[t].parent, ch, dst, len, {accReady}));
      }
    }
  }
  return Status::ok();
}

}  // namespace mrd::algo
