// The board: small collectives among the ranks of one host without
// messages. Every rank owns an area of shared memory (the shm transport
// places it in the rank's segment; transport::BoardView) that only it
// writes and every other rank reads: kSlots slots, each a header and the
// rank's input, and a counter of the operations whose slots it has read.
//
// Operation n (numbered alike on every rank) uses slot n % kSlots. A rank
//   1. waits until every other rank has read its slot of operation
//      n - kSlots (a broadcast's root, which reads nothing, may so run up
//      to kSlots operations ahead of the others),
//   2. copies its input into the slot (scaled first for PreMulSum), writes
//      what the operation is (collective, count, type, op, root) and, last,
//      n into the slot's sequence word: the first cache line holds the
//      sequence word, the description and the first 32 bytes of data, so a
//      message of that size is one line for its readers,
//   3. waits for the slots of operation n of the ranks it needs (all of
//      them; the root alone for a broadcast's other ranks, none for its
//      root; none for a reduce's non-root ranks), checks they describe the
//      same operation (ranks that read no slot check nothing: a mismatch
//      fails the ranks that read, and through them the rest, below),
//   4. computes its result from the slots, ranks in order 0, 1, ..., so
//      every rank gets the same bits, and
//   5. publishes that it has read operation n.
// One round of cache-line transfers instead of a message per step: no
// schedule, no ring headers, no acknowledgements (the read counters are
// looked at only when a slot might still be in use). Waiting polls, yields
// the core after a few microseconds and then sleeps on the transport's
// doorbell, which writers ring; it ends with an error naming the rank, the
// peer and the operation on MRD_TIMEOUT_MS or when the peer's process is
// gone or has failed, and with one naming the operation on abort. A rank
// whose round fails tells the others through the transport (as an abort
// does), so none of them waits out its timeout.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "core/coll_request.h"
#include "core/executor.h"
#include "transport/transport.h"

namespace mrd {

class LocalBoard {
 public:
  static constexpr uint64_t kSlots = 32;
  // Bytes of one rank's area for slots of `capacity` payload bytes.
  static size_t areaBytes(size_t capacity);
  // Bytes this rank publishes for `req` (its input).
  static size_t inputBytes(const CollRequest& req, int nranks);
  // Whether the board can run `req` at all (the collective; sizes aside).
  static bool handles(CollKind kind);

  // `bell` is the transport whose doorbell peers ring (the one that gave
  // the view); `capacity` as passed to areaBytes.
  void attach(transport::BoardView view, transport::Transport* bell, int rank, int nranks,
              size_t capacity);
  bool attached() const { return bell_ != nullptr; }
  size_t capacity() const { return capacity_; }

  // Runs `req` (handles() and inputBytes() <= capacity(): the caller
  // checked). `what` names the operation in errors.
  // On an error the other ranks are told through the transport (fail(), with the error),
  // so that none waits for this one until its own timeout.
  Status run(const CollRequest& req, const ExecutionEnv& env, const std::function<std::string()>& what);

  // The same round without blocking, for a call whose other operations
  // (a group's sends and receives) must move meanwhile: begin() numbers it,
  // poll() does what can be done now and sets *done once the result is
  // there (*moved when anything happened). `req` must outlive the round.
  // The caller bounds the wait (the executor's timeout); poll() ends it
  // sooner when the peer waited for is gone.
  Status begin(const CollRequest& req);
  Status poll(bool* moved, bool* done, const std::function<std::string()>& what);

 private:
  Status runRound(const CollRequest& req, const ExecutionEnv& env, const std::function<std::string()>& what);
  // The round's parts: whether every reader is done with operation n's
  // slot's previous use; writing the input and description; which ranks'
  // slots are needed ([first, last], empty when first > last); whether
  // rank q published operation n; checking, computing and releasing.
  bool slotFree(uint64_t n);
  void publish(const CollRequest& req, uint64_t n);
  void needed(const CollRequest& req, int* first, int* last) const;
  bool published(int q, uint64_t n) const;
  Status finish(const CollRequest& req, uint64_t n, int first, int last, const std::function<std::string()>& what);
  struct SlotHeader;
  SlotHeader* slot(int rank, uint64_t op) const;
  std::atomic<uint64_t>* readCounter(int rank) const;
  // Polls `ready(peer)` for each peer in [first, last] but self until all
  // are true, spinning, then yielding, then sleeping on the doorbell.
  template <typename Ready>
  Status waitFor(int first, int last, const Ready& ready, const ExecutionEnv& env,
                 const std::function<std::string()>& what, const char* waitingFor);
  Status checkSame(const SlotHeader& mine, const SlotHeader& theirs, int peer,
                   const std::function<std::string()>& what) const;
  void wakeOthers();

  transport::BoardView view_;
  transport::Transport* bell_ = nullptr;
  int rank_ = 0, nranks_ = 1;
  size_t capacity_ = 0, slotStride_ = 0;
  uint64_t ops_ = 0;  // board operations run so far
  uint64_t allRead_ = 0;  // every other rank had read up to this operation, when last looked
  // The round begin() started.
  const CollRequest* pending_ = nullptr;
  uint64_t pendingOp_ = 0;
  int pendingStage_ = 0;  // 0: waiting for the slot, 1: published, 2: done
};

}  // namespace mrd
