// One-shot allreduce for small buffers: every rank sends its whole input to
// every other rank at once and reduces what arrives, in rank order, so all
// ranks compute bit-identical results. One message latency instead of the
// ring's 2(n-1); worth it while n * bytes stays small.
#include "common/partition.h"

namespace mrd::algo {
namespace {

constexpr size_t kMaxBytes = 32 << 10;
constexpr size_t kMaxTotalBytes = 256 << 10;  // bytes * (n - 1) received per rank

Status buildDirectAllReduce(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const int n = ctx.nranks, r = ctx.rank;
  const size_t ts = dataTypeSize(req.type);
  const size_t bytes = req.count * ts;
  char* output = static_cast<char*>(req.recvbuf);
  char* slots = ctx.scratch->take(bytes * static_cast<size_t>(n) + ts);
  auto contribution = [&](int i) { return slots + static_cast<size_t>(i) * bytes; };
  // Our own contribution lives in its slot too, so the output may alias the input.
  int own = req.reduce.preMultiply
                ? scaleInput(req, contribution(r), req.sendbuf, req.count, out)
                : out->copy(contribution(r), req.sendbuf, bytes, {});
  if (n == 1) {
    int cp = out->copy(output, contribution(0), bytes, {own});
    divideOutput(req, output, req.count, cp >= 0 ? cp : own, out);
    return Status::ok();
  }
  std::vector<int> arrived(static_cast<size_t>(n), own);
  for (int s = 1; s < n; ++s) {
    const int to = positiveMod(r + s, n), from = positiveMod(r - s, n);
    out->send(to, 0, contribution(r), bytes, {own});
    arrived[static_cast<size_t>(from)] = out->recv(from, 0, contribution(from), bytes, {});
  }
  // `own` read the input; the output may be the same memory.
  int acc = out->reduce(output, contribution(0), contribution(1), req.count,
                        {arrived[0], arrived[1], own});
  for (int i = 2; i < n; ++i) {
    acc = out->reduce(output, output, contribution(i), req.count, {acc, arrived[static_cast<size_t>(i)]});
  }
  divideOutput(req, output, req.count, acc, out);
  return Status::ok();
}

class DirectAlgorithm : public Algorithm {
 public:
  const char* name() const override { return "direct"; }
  bool supports(const CollRequest& req, const PlanContext& ctx) const override {
    if (req.kind != CollKind::kAllReduce) return false;
    size_t bytes = req.count * dataTypeSize(req.type);
    return bytes <= kMaxBytes && bytes * static_cast<size_t>(ctx.nranks - 1) <= kMaxTotalBytes;
  }
  Status build(const CollRequest& req, const PlanContext& ctx, Schedule* out) const override {
    return buildDirectAllReduce(req, ctx, out);
  }
};

}  // namespace

std::unique_ptr<Algorithm> makeDirectAlgorithm() { return std::make_unique<DirectAlgorithm>(); }

}  // namespace mrd::algo
