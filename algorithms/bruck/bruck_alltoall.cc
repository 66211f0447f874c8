// Bruck alltoall. Think of this rank's blocks in rotated order: index i
// holds the block for rank r+i. In round k (d = 2^k) every block whose
// index has bit k set moves d ranks forward, all in one message to r+d;
// the blocks from r-d take the same indices here. After ceil(log2 n)
// rounds index i holds the block rank r-i sent to r.
//
// Nothing is rotated in memory: each index remembers where its block lies
// now (the send buffer, or the buffer of the round that last brought it),
// packing copies straight from there, and a block goes to the receive
// buffer right after its last move. Indices of one message are sent in
// descending order, so the blocks that reach their destination in a round
// are contiguous at the receiver (modulo the wrap around the buffer end).
// In the last round all of them are: that round is received straight into
// the receive buffer (unless it wraps there and is small: then one message
// to scratch and copies beat two messages).
#include <vector>

#include "bruck/bruck.h"
#include "bruck/bruck_steps.h"

namespace mrd::algo {
namespace {

// From this many bytes on, the last round's blocks that wrap around the end
// of the receiver's output are worth a message of their own; below, the
// round arrives in scratch and is copied into place.
constexpr size_t kSplitLastRoundBytes = 64 << 10;

}  // namespace

Status buildBruckAlltoAll(const CollRequest& req, const PlanContext& ctx, Schedule* out) {
  const size_t n = static_cast<size_t>(ctx.nranks), r = static_cast<size_t>(ctx.rank);
  const size_t block = req.count * dataTypeSize(req.type);
  if (block == 0) return Status::ok();
  const char* input = static_cast<const char*>(req.sendbuf);
  char* output = static_cast<char*>(req.recvbuf);
  int inputReady = -1;
  if (req.sendbuf == req.recvbuf) {
    if (n == 1) return Status::ok();
    // In place: save the input before blocks land on it.
    char* saved = ctx.scratch->take(n * block);
    inputReady = out->copy(saved, input, n * block, {});
    input = saved;
  }
  out->copy(output + r * block, input + r * block, block, {inputReady});
  if (n == 1) return Status::ok();

  std::vector<const char*> where(n);  // by rotated index
  std::vector<int> ready(n, inputReady);
  for (size_t i = 0; i < n; ++i) where[i] = input + ((r + i) % n) * block;

  // Whether the last round's m blocks go straight into rank q's output.
  auto direct = [&](size_t q, size_t m) {
    return (q + 1) % n + m <= n || m * block >= kSplitLastRoundBytes;
  };

  const int rounds = bruck::roundsFor(n);
  std::vector<size_t> moving;
  for (int k = 0; k < rounds; ++k) {
    const size_t d = size_t{1} << k;
    const size_t to = (r + d) % n, from = (r + n - d) % n;
    moving.clear();
    for (size_t i = n; i-- > 0;) {
      if ((i & d) != 0) moving.push_back(i);
    }
    const size_t m = moving.size();
    const bool last = k == rounds - 1;  // every index moving now is [d, n)

    // Send: one block goes as it lies, more are packed.
    const char* msg = where[moving[0]];
    int msgReady = ready[moving[0]];
    if (m > 1) {
      char* pack = ctx.scratch->take(m * block);
      bruck::CopyBatch copies(out, /*chain=*/true, -1);
      for (size_t j = 0; j < m; ++j) {
        copies.add(pack + j * block, where[moving[j]], block, ready[moving[j]]);
      }
      msgReady = copies.flush();
      msg = pack;
    }
    // The last round's blocks are all final: they go straight into the
    // receiver's output when they are contiguous there, or when they are
    // worth a second message for the part that wraps (a copy otherwise).
    // Slot j (index n-1-j) at rank q is from q-(n-1-j): block q+1+j.
    bruck::Piece pieces[2];
    if (last && direct(to, m)) {
      int np = bruck::circularPieces((to + 1) % n, m, n, pieces);
      for (int p = 0; p < np; ++p) {
        bruck::sendMessage(out, ctx, static_cast<int>(to), msg + pieces[p].skip * block,
                           pieces[p].blocks * block, msgReady);
      }
    } else {
      bruck::sendMessage(out, ctx, static_cast<int>(to), msg, m * block, msgReady);
    }

    // Receive.
    if (last && direct(r, m)) {
      int np = bruck::circularPieces((r + 1) % n, m, n, pieces);
      for (int p = 0; p < np; ++p) {
        bruck::recvMessage(out, ctx, static_cast<int>(from), output + pieces[p].block * block,
                           pieces[p].blocks * block, inputReady);
      }
      continue;
    }
    char* arrived = ctx.scratch->take(m * block);
    const int got = bruck::recvMessage(out, ctx, static_cast<int>(from), arrived, m * block, -1);
    for (size_t j = 0; j < m; ++j) {
      where[moving[j]] = arrived + j * block;
      ready[moving[j]] = got;
    }
    // Indices [d, 2d) (the last d slots; all in the last round) have made
    // their last move.
    bruck::CopyBatch done(out, /*chain=*/false, inputReady);
    for (size_t j = last ? 0 : m - d; j < m; ++j) {
      done.add(output + ((r + n - moving[j]) % n) * block, arrived + j * block, block, got);
    }
  }
  return Status::ok();
}

}  // namespace mrd::algo
