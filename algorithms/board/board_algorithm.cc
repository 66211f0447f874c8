// "board": small collectives of a one-host communicator through shared
// memory every rank can read, one round of cache lines instead of
// messages (src/core/local_board.h has the protocol). It is a plug-in like
// the others, so the tuner weighs it, MRD_ALGO can force or exclude it and
// the benchmarks' -A runs it; but it builds no schedule: the communicator
// runs the round itself (Communicator::execute), alongside the rest of the
// call's schedule if there is any.
#include "core/algorithm.h"
#include "core/local_board.h"

namespace mrd::algo {
namespace {

class BoardAlgorithm : public Algorithm {
 public:
  const char* name() const override { return "board"; }
  bool supports(const CollRequest& req, const PlanContext& ctx) const override {
    return ctx.boardBytes > 0 && LocalBoard::handles(req.kind) &&
           LocalBoard::inputBytes(req, ctx.nranks) <= ctx.boardBytes;
  }
  Status build(const CollRequest& req, const PlanContext& ctx, Schedule* out) const override {
    (void)out;
    return internalError("rank " + std::to_string(ctx.rank) + ": the board runs " + collName(req.kind) +
                         " itself, without a schedule");
  }
};

}  // namespace

std::unique_ptr<Algorithm> makeBoardAlgorithm() { return std::make_unique<BoardAlgorithm>(); }

}  // namespace mrd::algo
