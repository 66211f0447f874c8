// Double binary tree allreduce. Each tree carries half the buffer (small
// buffers use tree 0 only), cut into slices. Up: a rank receives a slice
// from each child, adds it to its own input into recvbuf and passes the
// partial sum to its parent; the root ends with the result (and divides it
// for Avg). Down: the root sends the result to its children; every other
// rank receives it from its parent into recvbuf and passes it on. Slice k
// goes down while later slices still go up, so the phases overlap. Every
// rank ends with the root's bytes: results are bit-identical everywhere.
//
// Listing order: the up phase of slice i and the down phase of slice
// i - lag are listed together (ups of both trees first). With one channel
// the two trees may use the same link in the same direction, and a rank's
// transfers to one peer start in list order; the lag lets the up phase run
// ahead of the round trip instead of queueing behind it. Both ends of a
// link list its transfers in the same order and every step depends only
// on steps listed before it, so any lag is free of deadlock.
#include <memory>
#include <vector>

#include "common/partition.h"
#include "tree/tree.h"
#include "tree/tree_shape.h"

namespace mrd::algo {
namespace {

struct TreePart {
  TreeLinks links;
  int channel = 0;
  Range part;
  std::unique_ptr<SlotRing> slots[2];  // receive slots per child
  std::vector<int> upSent;  // per slice: the send to the parent (reads the slice)
  std::vector<int> ready;   // per slice: the result is in recvbuf
};

class Builder {
 public:
  Builder(const CollRequest& req, const PlanContext& ctx, const char* input, int inputReady,
          Schedule* out)
      : req_(req), ctx_(ctx), ts_(dataTypeSize(req.type)), input_(input),
        output_(static_cast<char*>(req.recvbuf)), inputReady_(inputReady), out_(out) {}

  void build() {
    std::vector<TreePart> trees;
    size_t largest = 0;
    const int ntrees = treesFor(req_.count * ts_, ctx_);
    for (int t = 0; t < ntrees; ++t) {
      Range part = evenPart(req_.count, static_cast<size_t>(ntrees), static_cast<size_t>(t));
      TreePart tp;
      tp.links = doubleTreeLinks(ctx_.nranks, t, ctx_.rank);
      tp.channel = treeChannel(ctx_, t);
      tp.part = part;
      for (int c = 0; c < 2; ++c) {
        if (tp.links.child[c] >= 0) tp.slots[c] = std::make_unique<SlotRing>(ctx_, ts_);
      }
      largest = std::max(largest, part.count);
      trees.push_back(std::move(tp));
    }
    // Both trees use the same slice count so the listing order is simple.
    ns_ = sliceCount(largest, ts_, ctx_);
    for (TreePart& tp : trees) {
      tp.upSent.assign(ns_, -1);
      tp.ready.assign(ns_, -1);
    }
    const size_t lag = 2 * static_cast<size_t>(doubleTreeHeight(ctx_.nranks)) + 2;
    for (size_t i = 0; i < ns_ + lag; ++i) {
      if (i < ns_) {
        for (TreePart& tp : trees) up(&tp, i);
      }
      if (i >= lag) {
        for (TreePart& tp : trees) down(&tp, i - lag);
      }
    }
  }

 private:
  Range slice(const TreePart& tp, size_t k) const {
    Range sl = evenPart(tp.part.count, ns_, k);
    sl.begin += tp.part.begin;
    return sl;
  }

  void up(TreePart* tp, size_t k) {
    const Range sl = slice(*tp, k);
    const size_t off = sl.begin * ts_, len = sl.count * ts_;
    char* dst = output_ + off;
    const char* acc = input_ + off;
    int accReady = inputReady_;
    for (int c = 0; c < 2; ++c) {
      const int child = tp->links.child[c];
      if (child < 0) continue;
      int slotFree = -1;
      char* slot = tp->slots[c]->next(&slotFree);
      int got = out_->recv(child, tp->channel, slot, len, {slotFree});
      accReady = out_->reduce(dst, acc, slot, sl.count, {got, accReady});
      tp->slots[c]->setUser(accReady);
      acc = dst;
    }
    if (tp->links.parent >= 0) {
      tp->upSent[k] = out_->send(tp->links.parent, tp->channel, acc, len, {accReady});
    } else {
      // The root (n >= 2, so it has a child and acc is already recvbuf).
      tp->ready[k] = divideOutput(req_, dst, sl.count, accReady, out_);
    }
  }

  void down(TreePart* tp, size_t k) {
    const Range sl = slice(*tp, k);
    const size_t off = sl.begin * ts_, len = sl.count * ts_;
    char* buf = output_ + off;
    if (tp->links.parent >= 0) {
      // The send up read this slice (from recvbuf, or the input in place).
      tp->ready[k] = out_->recv(tp->links.parent, tp->channel, buf, len, {tp->upSent[k]});
    }
    for (int c = 0; c < 2; ++c) {
      const int child = tp->links.child[c];
      if (child >= 0) out_->send(child, tp->channel, buf, len, {tp->ready[k]});
    }
  }

  const CollRequest& req_;
  const PlanContext& ctx_;
  const size_t ts_;
  const char* input_;
  char* output_;
  const int inputReady_;
  Schedule* out_;
  size_t ns_ = 1;
};

}  // namespace

Status buildTreeAllReduce(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const ReductionInput in = prepareReductionInput(req, req.recvbuf, out);
  const char* input = in.data;
  const int inputReady = in.ready;
  if (ctx.nranks == 1) {
    reduceOnOneRank(req, in, req.recvbuf, out);
    return Status::ok();
  }
  Builder(req, ctx, input, inputReady, out).build();
  return Status::ok();
}

}  // namespace mrd::algo
