// Bruck allgather. In rotated order (index i: the block of rank r+i) this
// rank starts with index 0; in round k (d = 2^k) it sends its first
// min(d, n-d) indices to r-d and gets the same count from r+d as indices
// [d, ...): doubling, the last round partial when n is not a power of two.
//
// Small operations gather in a scratch buffer in rotated order and rotate
// into place at the end (two copies), one message per round. Large ones
// work in the receive buffer itself: index i is block r+i there, so both
// ends see a message as the same blocks, cut in two where they wrap around
// the end of the buffer, and nothing is copied but this rank's own block.
#include "bruck/bruck.h"
#include "bruck/bruck_steps.h"

namespace mrd::algo {
namespace {

// From this many bytes of output on, working in the output (a second
// message in the rounds that wrap) beats rotating it out of scratch.
constexpr size_t kInOutputBytes = 256 << 10;

}  // namespace

Status buildBruckAllGather(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const size_t n = static_cast<size_t>(ctx.nranks), r = static_cast<size_t>(ctx.rank);
  const size_t block = req.count * dataTypeSize(req.type);
  if (block == 0) return Status::ok();
  const char* input = static_cast<const char*>(req.sendbuf);
  char* output = static_cast<char*>(req.recvbuf);
  // Rank 0's rotated order is the output's: it always works there. Its
  // messages never wrap, so its peers cut them the same either way.
  const bool inOutput = r == 0 || n * block >= kInOutputBytes;
  char* work = inOutput ? output + r * block : ctx.scratch->take(n * block);
  int ready = out->copy(work, input, block, {});  // done: every index sent so far
  if (n == 1) return Status::ok();

  const int rounds = bruck::roundsFor(n);
  for (int k = 0; k < rounds; ++k) {
    const size_t d = size_t{1} << k;
    const size_t cnt = std::min(d, n - d);
    const int to = static_cast<int>((r + n - d) % n), from = static_cast<int>((r + d) % n);
    int got = -1;
    if (inOutput) {
      bruck::Piece pieces[2];
      int np = bruck::circularPieces(r, cnt, n, pieces);
      for (int p = 0; p < np; ++p) {
        bruck::sendMessage(out, ctx, to, output + pieces[p].block * block,
                           pieces[p].blocks * block, ready);
      }
      np = bruck::circularPieces((r + d) % n, cnt, n, pieces);
      for (int p = 0; p < np; ++p) {
        got = bruck::join(out, got,
                          bruck::recvMessage(out, ctx, from, output + pieces[p].block * block,
                                             pieces[p].blocks * block, -1));
      }
    } else {
      bruck::sendMessage(out, ctx, to, work, cnt * block, ready);
      got = bruck::recvMessage(out, ctx, from, work + d * block, cnt * block, -1);
    }
    ready = bruck::join(out, ready, got);
  }
  if (!inOutput) {
    out->copy(output + r * block, work, (n - r) * block, {ready});
    out->copy(output, work + (n - r) * block, r * block, {ready});
  }
  return Status::ok();
}

}  // namespace mrd::algo
