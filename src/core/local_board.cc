// The board's protocol; see local_board.h.
#include "core/local_board.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/datatype.h"
#include "core/reduce.h"

namespace mrd {

// The first half of a slot's first cache line; its data follows at once.
struct LocalBoard::SlotHeader {
  std::atomic<uint64_t> seq;  // the operation whose input the slot holds (0: none yet)
  uint32_t kind;              // CollKind
  uint32_t type;              // mrdDataType_t
  uint64_t count;
  int32_t root;
  uint32_t op;  // RedKind, average (bit 8), preMultiply (bit 9)
};

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kLine = 64;
constexpr size_t kHeaderBytes = 32;

size_t roundUp(size_t v, size_t to) { return (v + to - 1) / to * to; }

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

uint32_t opCode(const CollRequest& req) {
  switch (req.kind) {
    case CollKind::kAllReduce:
    case CollKind::kReduce:
    case CollKind::kReduceScatter:
      return static_cast<uint32_t>(req.reduce.kind) | (req.reduce.average ? 1u << 8 : 0u) |
             (req.reduce.preMultiply ? 1u << 9 : 0u);
    default:
      return 0;
  }
}

bool rooted(CollKind k) { return k == CollKind::kBroadcast || k == CollKind::kReduce; }

std::string describeSlot(CollKind kind, size_t count, mrdDataType_t type, int root, uint32_t op) {
  std::string s = std::string(collName(kind)) + " of " + std::to_string(count) + " " + dataTypeName(type);
  if (rooted(kind)) s += " root " + std::to_string(root);
  if (kind == CollKind::kAllReduce || kind == CollKind::kReduce || kind == CollKind::kReduceScatter) {
    static const char* const kNames[] = {"sum", "prod", "max", "min"};
    s += std::string(" ") + ((op & 0xff) < 4 ? kNames[op & 0xff] : "?");
    if (op & (1u << 8)) s += " (avg)";
    if (op & (1u << 9)) s += " (premultiplied)";
  }
  return s;
}

}  // namespace

static_assert(sizeof(std::atomic<uint64_t>) == 8 && std::atomic<uint64_t>::is_always_lock_free,
              "the board's sequence words are plain lock-free 8-byte words (they are shared between processes)");

size_t LocalBoard::areaBytes(size_t capacity) {
  static_assert(sizeof(SlotHeader) == kHeaderBytes, "the slot header is half a cache line");
  return kLine + kSlots * roundUp(kHeaderBytes + capacity, kLine);
}

bool LocalBoard::handles(CollKind kind) {
  switch (kind) {
    case CollKind::kAllReduce:
    case CollKind::kBroadcast:
    case CollKind::kReduce:
    case CollKind::kAllGather:
    case CollKind::kReduceScatter:
    case CollKind::kAlltoAll:
      return true;
    default:
      return false;
  }
}

size_t LocalBoard::inputBytes(const CollRequest& req, int nranks) {
  const size_t es = dataTypeSize(req.type);
  switch (req.kind) {
    case CollKind::kReduceScatter:
    case CollKind::kAlltoAll:
      return req.count * es * static_cast<size_t>(nranks);
    default:
      return req.count * es;
  }
}

void LocalBoard::attach(transport::BoardView view, transport::Transport* bell, int rank, int nranks,
                        size_t capacity) {
  view_ = std::move(view);
  bell_ = bell;
  rank_ = rank;
  nranks_ = nranks;
  capacity_ = capacity;
  slotStride_ = roundUp(kHeaderBytes + capacity, kLine);
  ops_ = 0;
  allRead_ = 0;
}

LocalBoard::SlotHeader* LocalBoard::slot(int rank, uint64_t op) const {
  return reinterpret_cast<SlotHeader*>(view_.areas[static_cast<size_t>(rank)] + kLine + (op % kSlots) * slotStride_);
}

std::atomic<uint64_t>* LocalBoard::readCounter(int rank) const {
  return reinterpret_cast<std::atomic<uint64_t>*>(view_.areas[static_cast<size_t>(rank)]);
}

void LocalBoard::wakeOthers() {
  // One fence for all (it pairs with a sleeper's between announcing its
  // sleep and looking once more); the doorbell only for those asleep.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  for (int q = 0; q < nranks_; ++q) {
    if (q != rank_ && view_.sleeping[static_cast<size_t>(q)]->load(std::memory_order_relaxed) != 0) view_.wake(q);
  }
}

template <typename Ready>
Status LocalBoard::waitFor(int first, int last, const Ready& ready, const ExecutionEnv& env,
                           const std::function<std::string()>& what, const char* waitingFor) {
  int next = first;  // peers before it are ready
  auto allReady = [&] {
    for (; next <= last; ++next) {
      if (next != rank_ && !ready(next)) return false;
    }
    return true;
  };
  if (allReady()) return Status::ok();
  const auto start = Clock::now();
  hang::WaitReporter reporter;
  reporter.start(env.hangReportMs);
  while (true) {
    for (int i = 0; i < 16; ++i) {
      if (allReady()) return Status::ok();
      cpuRelax();
    }
    if (env.abort != nullptr && env.abort->load(std::memory_order_relaxed)) {
      return remoteError("rank " + std::to_string(rank_) + ": " + what() + ": the communicator was aborted");
    }
    const int64_t waitedUs = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
    if (waitedUs < env.purePollUs) continue;
    if (waitedUs < env.spinUs) {
      sched_yield();  // ranks sharing our core are who we wait for
      continue;
    }
    if (waitedUs / 1000 >= env.timeoutMs) {
      return timeoutError("rank " + std::to_string(rank_) + ": " + what() + ": no progress for " +
                          std::to_string(waitedUs / 1000) + " ms (MRD_TIMEOUT_MS), waiting on the shared-memory board for peer " +
                          std::to_string(next) + " " + waitingFor + " (board operation " + std::to_string(ops_) + ")");
    }
    if (reporter.due(waitedUs / 1000)) {
      hang::emit("rank " + std::to_string(rank_) + ": " + hang::kMarker + " operation " + std::to_string(env.opSeq) + " (" +
                 what() + ") on communicator " + env.commTag + " without progress for " + std::to_string(waitedUs / 1000) +
                 " ms: waiting on the shared-memory board for peer " + std::to_string(next) + " " + waitingFor +
                 " (board operation " + std::to_string(ops_) + ")");
    }
    const std::string gone = view_.gone(next);
    // A peer may publish its last operation and leave at once: what it
    // wrote before it left still counts.
    if (!gone.empty() && allReady()) return Status::ok();
    if (!gone.empty()) {
      return remoteError("rank " + std::to_string(rank_) + ": " + what() + ": waiting on the shared-memory board for peer " +
                         std::to_string(next) + " " + waitingFor + ": " + gone);
    }
    bell_->prepareSleep();
    const bool done = allReady();
    if (!done) bell_->sleep(1000);
    bell_->endSleep();
    if (done) return Status::ok();
  }
}

Status LocalBoard::checkSame(const SlotHeader& mine, const SlotHeader& theirs, int peer,
                             const std::function<std::string()>& what) const {
  const bool same = mine.kind == theirs.kind && mine.type == theirs.type && mine.count == theirs.count &&
                    mine.op == theirs.op && (!rooted(static_cast<CollKind>(mine.kind)) || mine.root == theirs.root);
  if (same) return Status::ok();
  return invalidUsage("rank " + std::to_string(rank_) + ": " + what() + ": peer " + std::to_string(peer) +
                      " called " +
                      describeSlot(static_cast<CollKind>(theirs.kind), theirs.count,
                                   static_cast<mrdDataType_t>(theirs.type), theirs.root, theirs.op) +
                      " where this rank called " +
                      describeSlot(static_cast<CollKind>(mine.kind), mine.count, static_cast<mrdDataType_t>(mine.type),
                                   mine.root, mine.op) +
                      " (operations issued in a different order on the two ranks?)");
}

Status LocalBoard::run(const CollRequest& req, const ExecutionEnv& env, const std::function<std::string()>& what) {
  if (!handles(req.kind)) {
    return internalError("rank " + std::to_string(rank_) + ": " + what() + ": not a board operation");
  }
  Status st = runRound(req, env, what);
  // A rank that stops here (timeout, a mismatch, abort) leaves the others
  // waiting for a slot it will never write, or for it to read theirs: it
  // tells them at once, as an abort does (they fail naming this rank), and
  // the communicator is unusable from here on anyway.
  if (!st.isOk()) bell_->fail(st.message());
  return st;
}

bool LocalBoard::slotFree(uint64_t n) {
  if (n <= kSlots || allRead_ >= n - kSlots) return true;
  uint64_t least = n;
  for (int q = 0; q < nranks_; ++q) {
    if (q != rank_) least = std::min(least, readCounter(q)->load(std::memory_order_acquire));
  }
  allRead_ = least;
  return least >= n - kSlots;
}

void LocalBoard::publish(const CollRequest& req, uint64_t n) {
  SlotHeader* own = slot(rank_, n);
  char* ownData = reinterpret_cast<char*>(own) + kHeaderBytes;
  const size_t es = dataTypeSize(req.type);
  const size_t input = inputBytes(req, nranks_);
  if (req.kind != CollKind::kBroadcast || rank_ == req.root) {
    if (req.reduce.preMultiply && opCode(req) != 0) {
      scaleInto(ownData, req.sendbuf, input / es, req.type, req.reduce.scalar);
    } else if (input > 0) {
      std::memcpy(ownData, req.sendbuf, input);
    }
  }
  own->kind = static_cast<uint32_t>(req.kind);
  own->type = static_cast<uint32_t>(req.type);
  own->count = req.count;
  own->root = req.root;
  own->op = opCode(req);
  own->seq.store(n, std::memory_order_release);
  wakeOthers();
}

void LocalBoard::needed(const CollRequest& req, int* first, int* last) const {
  const bool root = rank_ == req.root;
  *first = 0;
  *last = nranks_ - 1;
  if (req.kind == CollKind::kBroadcast) {
    *first = root ? nranks_ : req.root;  // the root needs none
    *last = root ? nranks_ - 1 : req.root;
  }
  if (req.kind == CollKind::kReduce && !root) *first = nranks_;  // nor do a reduce's others
}

bool LocalBoard::published(int q, uint64_t n) const {
  return slot(q, n)->seq.load(std::memory_order_acquire) == n;
}

Status LocalBoard::runRound(const CollRequest& req, const ExecutionEnv& env, const std::function<std::string()>& what) {
  const uint64_t n = ++ops_;
  // 1. Our slot's last operation, n - kSlots, has been read by everyone.
  if (!slotFree(n)) {
    MRD_TRY(waitFor(0, nranks_ - 1, [&](int q) { return readCounter(q)->load(std::memory_order_acquire) >= n - kSlots; },
                    env, what, "to read this rank's input of an earlier operation"));
    slotFree(n);
  }
  // 2. Publish the input and what the operation is.
  publish(req, n);
  // 3. The slots this rank needs.
  int first = 0, last = 0;
  needed(req, &first, &last);
  MRD_TRY(waitFor(first, last, [&](int q) { return published(q, n); }, env, what, "to publish its input"));
  return finish(req, n, first, last, what);
}

Status LocalBoard::begin(const CollRequest& req) {
  if (!handles(req.kind)) return internalError("rank " + std::to_string(rank_) + ": not a board operation");
  pending_ = &req;
  pendingOp_ = ++ops_;
  pendingStage_ = 0;
  return Status::ok();
}

Status LocalBoard::poll(bool* moved, bool* done, const std::function<std::string()>& what) {
  *done = false;
  const uint64_t n = pendingOp_;
  int missing = -1;
  if (pendingStage_ == 0) {
    if (slotFree(n)) {
      publish(*pending_, n);
      pendingStage_ = 1;
      *moved = true;
    } else {
      for (int q = 0; q < nranks_ && missing < 0; ++q) {
        if (q != rank_ && readCounter(q)->load(std::memory_order_acquire) < n - kSlots) missing = q;
      }
    }
  }
  if (pendingStage_ == 1) {
    int first = 0, last = 0;
    needed(*pending_, &first, &last);
    for (int q = first; q <= last && missing < 0; ++q) {
      if (q != rank_ && !published(q, n)) missing = q;
    }
    if (missing < 0) {
      pendingStage_ = 2;
      *moved = *done = true;
      Status st = finish(*pending_, n, first, last, what);
      if (!st.isOk()) bell_->fail(st.message());
      return st;
    }
  }
  // Still waiting (the executor times the wait out): a peer whose process
  // is gone ends it sooner (the transport asks the kernel every 10 ms at most).
  if (missing >= 0) {
    const std::string gone = view_.gone(missing);
    if (!gone.empty() && !(pendingStage_ == 1 && published(missing, n))) {
      Status st = remoteError("rank " + std::to_string(rank_) + ": " + what() +
                              ": waiting on the shared-memory board for peer " + std::to_string(missing) + ": " + gone);
      bell_->fail(st.message());
      return st;
    }
  }
  return Status::ok();
}

Status LocalBoard::finish(const CollRequest& req, uint64_t n, int first, int last,
                          const std::function<std::string()>& what) {
  const int p = nranks_, me = rank_;
  const bool root = me == req.root;
  const SlotHeader* own = slot(me, n);
  for (int q = first; q <= last && q < p; ++q) {
    if (q != me) MRD_TRY(checkSame(*own, *slot(q, n), q, what));
  }
  // 4. The result, ranks in order.
  const size_t es = dataTypeSize(req.type);
  auto data = [&](int q) -> const char* { return reinterpret_cast<const char*>(slot(q, n)) + kHeaderBytes; };
  const size_t blk = req.count * es;
  auto reduceInto = [&](void* dst, size_t offset) {
    reduceArrays(dst, data(0) + offset, data(1) + offset, req.count, req.type, req.reduce.kind);
    for (int q = 2; q < p; ++q) reduceArrays(dst, dst, data(q) + offset, req.count, req.type, req.reduce.kind);
    if (req.reduce.average) divideInPlace(dst, req.count, req.type, p);
  };
  switch (req.kind) {
    case CollKind::kAllReduce:
      reduceInto(req.recvbuf, 0);
      break;
    case CollKind::kReduce:
      if (root) reduceInto(req.recvbuf, 0);
      break;
    case CollKind::kReduceScatter:
      reduceInto(req.recvbuf, static_cast<size_t>(me) * blk);
      break;
    case CollKind::kBroadcast:
      if (blk > 0 && (req.recvbuf != req.sendbuf || !root)) {
        std::memcpy(req.recvbuf, root ? static_cast<const char*>(req.sendbuf) : data(req.root), blk);
      }
      break;
    case CollKind::kAllGather:
      for (int q = 0; blk > 0 && q < p; ++q) std::memcpy(static_cast<char*>(req.recvbuf) + static_cast<size_t>(q) * blk, data(q), blk);
      break;
    case CollKind::kAlltoAll:
      for (int q = 0; blk > 0 && q < p; ++q) {
        std::memcpy(static_cast<char*>(req.recvbuf) + static_cast<size_t>(q) * blk, data(q) + static_cast<size_t>(me) * blk, blk);
      }
      break;
    default:
      break;  // run() and begin() let only the kinds above through
  }
  // 5. Done reading operation n.
  readCounter(me)->store(n, std::memory_order_release);
  wakeOthers();
  return Status::ok();
}

}  // namespace mrd
