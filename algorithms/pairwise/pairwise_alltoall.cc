#include "common/partition.h"
#include "pairwise/pairwise.h"

namespace mrd::algo {
namespace {

// Offsets and sizes in bytes of what goes to and comes from each rank.
struct Layout {
  std::vector<size_t> sendOff, sendLen, recvOff, recvLen;
};

Status exchange(const CollRequest& req, const PlanContext& ctx, const Layout& l, Schedule* out) {
  const int n = ctx.nranks, r = ctx.rank;
  const size_t me = static_cast<size_t>(r);
  const char* input = static_cast<const char*>(req.sendbuf);
  char* output = static_cast<char*>(req.recvbuf);
  int inputReady = -1;
  if (req.sendbuf == req.recvbuf) {
    // In place: what is sent must be saved before anything lands on it.
    size_t total = 0;
    for (int i = 0; i < n; ++i) total = std::max(total, l.sendOff[static_cast<size_t>(i)] + l.sendLen[static_cast<size_t>(i)]);
    char* saved = ctx.scratch->take(total);
    inputReady = out->copy(saved, input, total, {});
    input = saved;
  }
  out->copy(output + l.recvOff[me], input + l.sendOff[me], l.sendLen[me], {inputReady});
  for (int s = 1; s < n; ++s) {
    const size_t to = static_cast<size_t>(positiveMod(r + s, n));
    const size_t from = static_cast<size_t>(positiveMod(r - s, n));
    const int channel = s % ctx.nchannels;  // peer r+s receives from r at its step s too
    out->send(static_cast<int>(to), channel, input + l.sendOff[to], l.sendLen[to], {inputReady});
    out->recv(static_cast<int>(from), channel, output + l.recvOff[from], l.recvLen[from],
              {inputReady});
  }
  return Status::ok();
}

}  // namespace

Status buildPairwiseAlltoAll(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const size_t n = static_cast<size_t>(ctx.nranks);
  const size_t block = req.count * dataTypeSize(req.type);
  Layout l;
  for (size_t i = 0; i < n; ++i) {
    l.sendOff.push_back(i * block);
    l.recvOff.push_back(i * block);
    l.sendLen.push_back(block);
    l.recvLen.push_back(block);
  }
  return exchange(req, ctx, l, out);
}

Status buildPairwiseAlltoAllv(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const size_t n = static_cast<size_t>(ctx.nranks);
  const size_t ts = dataTypeSize(req.type);
  Layout l;
  for (size_t i = 0; i < n; ++i) {
    l.sendOff.push_back(req.sdispls[i] * ts);
    l.sendLen.push_back(req.sendcounts[i] * ts);
    l.recvOff.push_back(req.rdispls[i] * ts);
    l.recvLen.push_back(req.recvcounts[i] * ts);
  }
  if (l.sendLen[static_cast<size_t>(ctx.rank)] != l.recvLen[static_cast<size_t>(ctx.rank)]) {
    return invalidArgument("alltoallv: rank " + std::to_string(ctx.rank) + " sends " +
                           std::to_string(req.sendcounts[static_cast<size_t>(ctx.rank)]) +
                           " elements to itself but expects " +
                           std::to_string(req.recvcounts[static_cast<size_t>(ctx.rank)]));
  }
  return exchange(req, ctx, l, out);
}

Status buildSendRecv(const CollRequest& req, const PlanContext&, Schedule* out) {
  const size_t bytes = req.count * dataTypeSize(req.type);
  if (req.kind == CollKind::kSend) {
    out->send(req.root, 0, req.sendbuf, bytes, {});
  } else {
    out->recv(req.root, 0, req.recvbuf, bytes, {});
  }
  return Status::ok();
}

namespace {

class PairwiseAlgorithm : public Algorithm {
 public:
  const char* name() const override { return "pairwise"; }
  bool supports(const CollRequest& req, const PlanContext&) const override {
    return req.kind == CollKind::kAlltoAll || req.kind == CollKind::kAlltoAllv ||
           req.kind == CollKind::kSend || req.kind == CollKind::kRecv;
  }
  Status build(const CollRequest& req, const PlanContext& ctx, Schedule* out) const override {
    switch (req.kind) {
      case CollKind::kAlltoAll: return buildPairwiseAlltoAll(req, ctx, out);
      case CollKind::kAlltoAllv: return buildPairwiseAlltoAllv(req, ctx, out);
      default: return buildSendRecv(req, ctx, out);
    }
  }
};

}  // namespace

std::unique_ptr<Algorithm> makePairwiseAlgorithm() { return std::make_unique<PairwiseAlgorithm>(); }

}  // namespace mrd::algo
