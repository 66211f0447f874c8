// Recursive algorithms: "recursive_doubling" (allreduce, allgather) and
// "rabenseifner" (allreduce, reduce-scatter: recursive halving then
// doubling). Both run on p = the largest power of two <= n ranks; the
// other n - p ranks are folded in first and out at the end: among the first
// 2(n - p) ranks each even rank hands its data to the odd rank above it and
// waits for the result, so odd rank 2i+1 stands for ranks 2i and 2i+1 as
// index i, and rank j >= 2(n - p) is index j - (n - p).
//
// Reductions always combine the lower ranks' data first (a op b with a from
// the lower half), so the result is one fixed expression tree in rank order
// and every rank ends with the same bits.
#pragma once

#include <vector>

#include "common/partition.h"
#include "core/algorithm.h"

namespace mrd::algo {

struct Fold {
  Fold(int nranks, int rank);
  int n = 1, p = 1, rem = 0, logp = 0;
  int rank = 0;
  int index = 0;     // among the p, or -1 for a rank folded out
  int partner = -1;  // the other rank of this rank's fold pair, or -1
  bool out() const { return index < 0; }
  // The rank that plays index w, and the first rank index w stands for
  // (firstOf(p) == n): index w covers ranks [firstOf(w), firstOf(w + 1)).
  int rankOf(int w) const { return w < rem ? 2 * w + 1 : w + rem; }
  int firstOf(int w) const { return w < rem ? 2 * w : w + rem; }
};

// The channels one message may be cut across: [first, first + count).
struct Lanes {
  int first = 0;
  int count = 1;
};

// A message of `count` elements cut into one piece per usable channel
// (none when empty; piece i goes on channel lanes.first + i). Both ends cut
// the same way from the same count.
std::vector<Range> cutMessage(size_t count, size_t typeSize, Lanes lanes, const PlanContext& ctx);

// Sends / receives `count` elements at `at` as the pieces of cutMessage,
// each piece after `dep`. Returns the steps, one per piece.
std::vector<int> sendPieces(int peer, const char* at, size_t count, size_t typeSize, Lanes lanes,
                            const PlanContext& ctx, int dep, Schedule* out);
std::vector<int> recvPieces(int peer, char* at, size_t count, size_t typeSize, Lanes lanes,
                            const PlanContext& ctx, int dep, Schedule* out);

// Elements bounds[a] .. bounds[b].
inline Range boundsSpan(const std::vector<size_t>& bounds, int a, int b) {
  return Range{bounds[static_cast<size_t>(a)],
               bounds[static_cast<size_t>(b)] - bounds[static_cast<size_t>(a)]};
}

// A step done once all of deps are (negative entries ignored); -1 if none.
int joinSteps(const std::vector<int>& deps, Schedule* out);

struct HalvingResult {
  int ready = -1;         // this index's range is fully reduced
  std::vector<int> sent;  // [k]: the sends from acc of the round with distance 2^k
};

// Reduce-scatter by recursive halving among the p indices (this rank must
// have one). bounds[w] .. bounds[w + 1] (elements) is what index w ends up
// with. cur holds this rank's contribution (ready after curReady);
// partial results go to acc (which may be cur). In the last round the
// elements of finalRange go to finalDst (element finalRange.begin first)
// instead of acc.
HalvingResult halvingReduceScatter(const Fold& f, const std::vector<size_t>& bounds,
                                   size_t typeSize, Lanes lanes, const PlanContext& ctx,
                                   const char* cur, int curReady, char* acc, Range finalRange,
                                   char* finalDst, Schedule* out);

// Allgather by recursive doubling among the p indices: on entry buf holds
// this index's range (ready after `ready`), on return all of
// bounds[0] .. bounds[p] (ready after the returned step). before[k], if
// present, must finish before anything is received in the round with
// distance 2^k.
int doublingAllGather(const Fold& f, const std::vector<size_t>& bounds, size_t typeSize,
                      Lanes lanes, const PlanContext& ctx, char* buf, int ready,
                      const std::vector<int>& before, Schedule* out);

// Both allreduces: the PreMulSum scale, one rank, then one independent
// copy of the algorithm per channel on that channel's share of the buffer.
using AllReduceChannelBuilder = void (*)(const CollRequest& req, const PlanContext& ctx,
                                         int channel, Range part, const char* input,
                                         int inputReady, Schedule* out);
Status buildAllReducePerChannel(const CollRequest& req, const PlanContext& ctx,
                                AllReduceChannelBuilder buildChannel, Schedule* out);

// The fold-in of an allreduce channel. A folded-out rank hands `in` to its
// partner and receives the result into `result` (and has nothing else to
// do: returns false). Its partner adds the received data, lower rank first,
// into `result`; *cur / *ready then name this rank's contribution.
bool foldInAllReduce(const Fold& f, int channel, const char* in, char* result, size_t count,
                     size_t typeSize, const PlanContext& ctx, const char** cur, int* ready,
                     Schedule* out);

Status buildRecursiveDoublingAllReduce(const CollRequest& req, const PlanContext& ctx,
                                       Schedule* out);
Status buildRecursiveDoublingAllGather(const CollRequest& req, const PlanContext& ctx,
                                       Schedule* out);
Status buildRabenseifnerAllReduce(const CollRequest& req, const PlanContext& ctx, Schedule* out);
Status buildRabenseifnerReduceScatter(const CollRequest& req, const PlanContext& ctx,
                                      Schedule* out);

std::unique_ptr<Algorithm> makeRecursiveDoublingAlgorithm();
std::unique_ptr<Algorithm> makeRabenseifnerAlgorithm();

}  // namespace mrd::algo
