#include "core/comm.h"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "bootstrap/root.h"
#include "core/datatype.h"
#include "core/mono_clock.h"
#include "log/log.h"

namespace mrd {
namespace {
// How long destroying a communicator waits, at most, for its connections
// to deliver what they owe (all of them together).
constexpr auto kCloseBudget = std::chrono::seconds(2);
// How long mrdCommAbort waits for other threads' calls to leave before it
// tells the peers why (they leave within milliseconds of the flag).
constexpr auto kAbortQuietWait = std::chrono::milliseconds(200);
}  // namespace

Status Communicator::init(const mrdUniqueId& id, int nranks, int rank,
                          const CommSettings& settings) {
  log::ScopedRank scoped(rank);
  // (initInBackground set them before starting this thread, and API calls
  // on other threads read them meanwhile: not written again then.)
  if (!identitySet_) {
    rank_ = rank;
    nranks_ = nranks;
    settings_ = settings;
  }
  MRD_TRY(bootstrap::Bootstrap::create(id, rank, nranks, static_cast<int>(settings.timeoutMs),
                                       &abort_, &bootstrap_));
  // A tag shared by all ranks of this communicator (rank 0's random word)
  // names its shared-memory segments.
  std::vector<uint32_t> words(static_cast<size_t>(nranks), 0);
  if (getrandom(&words[static_cast<size_t>(rank)], sizeof(uint32_t), 0) < 0) {
    words[static_cast<size_t>(rank)] = static_cast<uint32_t>(getpid());
  }
  MRD_TRY(bootstrap_->allgather(words.data(), sizeof(uint32_t)));
  char tag[16];
  std::snprintf(tag, sizeof tag, "%08x", words[0]);
  commTag_ = tag;
  MRD_TRY(setupTransports());

  env_.rank = rank_;
  env_.nranks = nranks_;
  env_.nchannels = settings_.nchannels;
  env_.conns = &conns_;
  env_.sendSeq = &sendSeq_;
  env_.recvSeq = &recvSeq_;
  env_.abort = &abort_;
  env_.timeoutMs = settings_.timeoutMs;
  env_.spinUs = config::processParams().spinUs;
  env_.hangReportMs = config::processParams().hangReportMs;
  env_.commTag = commTag_;
  MRD_TRY(setupTuner());
  MRD_TRY(setupRelays());
  if (rank == 0) {
    MRD_LOG_INFO(kInit, "Meridian {}.{}.{}: comm {} nranks {} channels {} timeout {} ms{}",
                 MRD_MAJOR, MRD_MINOR, MRD_PATCH, commTag_, nranks_, settings_.nchannels,
                 settings_.timeoutMs, settings_.name.empty() ? "" : " name " + settings_.name);
    for (const auto& v : config::processParams().explicitlySet) {
      MRD_LOG_INFO(kInit, "set: {}", v);
    }
  }
  hang::installSignalOnce();
  hang::registerIdle(this, rank_, [this] { return idleHangReport(); });
  return Status::ok();
}

std::string Communicator::idleHangReport() const {
  // An operation in flight (or about to start) reports from its executor.
  if (opsRunning_.load() > 0) return std::string();
  return "rank " + std::to_string(rank_) + ": " + hang::kMarker + " no operation in flight on communicator " +
         commTag_ + " (" + std::to_string(nranks_) + " ranks, " + std::to_string(opsStarted_.load()) +
         " operations run)";
}

Status Communicator::setupTransports() {
  const config::Params& params = config::processParams();
  transports_ = transport::makeBuiltinTransports(params);
  const size_t nt = transports_.size();
  // A transport may serve a pair only if both ends allow it: every rank
  // shares its mask so the choice is the same at both ends.
  std::vector<uint32_t> masks(static_cast<size_t>(nranks_), 0);
  uint32_t mine = 0;
  for (size_t t = 0; t < nt; ++t) {
    std::string name = transports_[t]->name();
    bool allowed = ("," + params.transports + ",").find("," + name + ",") != std::string::npos;
    if (allowed && transports_[t]->viable()) mine |= 1u << t;
  }
  masks[static_cast<size_t>(rank_)] = mine;
  MRD_TRY(bootstrap_->allgather(masks.data(), sizeof(uint32_t)));
  // Whether a call goes on the board depends on MRD_BOARD_BYTES: ranks
  // that read it differently would take different paths and wait for
  // each other until the timeout. Refused here instead.
  std::vector<int64_t> boardBytes(static_cast<size_t>(nranks_), 0);
  boardBytes[static_cast<size_t>(rank_)] = params.boardBytes;
  MRD_TRY(bootstrap_->allgather(boardBytes.data(), sizeof(int64_t)));
  for (int p = 0; p < nranks_; ++p) {
    if (boardBytes[static_cast<size_t>(p)] != params.boardBytes) {
      return invalidUsage("rank " + std::to_string(rank_) + ": MRD_BOARD_BYTES is " + std::to_string(params.boardBytes) +
                          " here but " + std::to_string(boardBytes[static_cast<size_t>(p)]) + " on rank " +
                          std::to_string(p) + ": every rank must use the same value");
    }
  }

  std::vector<int> chosen(static_cast<size_t>(nranks_), -1);
  for (int p = 0; p < nranks_; ++p) {
    if (p == rank_) continue;
    uint32_t both = mine & masks[static_cast<size_t>(p)];
    for (size_t t = 0; t < nt && chosen[static_cast<size_t>(p)] < 0; ++t) {
      if ((both >> t & 1u) && transports_[t]->canReach(*bootstrap_, p)) {
        chosen[static_cast<size_t>(p)] = static_cast<int>(t);
      }
    }
    if (chosen[static_cast<size_t>(p)] < 0) {
      return invalidUsage("rank " + std::to_string(rank_) + ": no transport reaches peer " +
                          std::to_string(p) + " (MRD_TRANSPORTS=" + params.transports + ")");
    }
    MRD_LOG_INFO(kInit, "peer {} ({}) via {}", p, bootstrap_->info(p).hostname,
                 transports_[static_cast<size_t>(chosen[static_cast<size_t>(p)])]->name());
  }
  conns_.clear();
  conns_.resize(static_cast<size_t>(nranks_));
  for (auto& c : conns_) c.resize(static_cast<size_t>(settings_.nchannels));
  sendSeq_.assign(static_cast<size_t>(nranks_),
                  std::vector<uint64_t>(static_cast<size_t>(settings_.nchannels), 0));
  recvSeq_ = sendSeq_;
  for (size_t t = 0; t < nt; ++t) {
    transport::SetupContext ctx;
    ctx.bootstrap = bootstrap_.get();
    ctx.params = &params;
    ctx.commTag = commTag_;
    ctx.nchannels = settings_.nchannels;
    ctx.timeoutMs = static_cast<int>(settings_.timeoutMs);
    ctx.abort = &abort_;
    ctx.boardAreaBytes = params.boardBytes > 0 ? LocalBoard::areaBytes(static_cast<size_t>(params.boardBytes)) : 0;
    ctx.useFor.assign(static_cast<size_t>(nranks_), false);
    bool used = false;
    for (int p = 0; p < nranks_; ++p) {
      ctx.useFor[static_cast<size_t>(p)] = chosen[static_cast<size_t>(p)] == static_cast<int>(t);
      used = used || ctx.useFor[static_cast<size_t>(p)];
    }
    MRD_TRY(transports_[t]->connect(ctx, &conns_));
    if (used) env_.transports.push_back(transports_[t].get());
    transport::BoardView view;
    if (used && transports_[t]->boardView(&view)) {
      board_.attach(std::move(view), transports_[t].get(), rank_, nranks_, static_cast<size_t>(params.boardBytes));
      MRD_LOG_INFO(kInit, "rank {}: small collectives (up to {} bytes per rank) through the {} board", rank_,
                   params.boardBytes, transports_[t]->name());
    }
  }
  return Status::ok();
}

void Communicator::setError(const Status& st) {
  std::lock_guard<std::mutex> g(errMu_);
  lastError_ = st.message();
}

std::string Communicator::lastError() const {
  std::lock_guard<std::mutex> g(errMu_);
  return lastError_;
}

Status Communicator::createPreMulSum(double scalar, mrdRedOp_t* op) {
  std::lock_guard<std::mutex> g(opsMu_);
  ReduceSpec spec;
  spec.kind = RedKind::kSum;
  spec.preMultiply = true;
  spec.scalar = scalar;
  for (size_t i = 0; i < userOps_.size(); ++i) {
    if (!userOpLive_[i]) {
      userOps_[i] = spec;
      userOpLive_[i] = true;
      *op = static_cast<mrdRedOp_t>(mrdNumOps + static_cast<int>(i));
      return Status::ok();
    }
  }
  userOps_.push_back(spec);
  userOpLive_.push_back(true);
  *op = static_cast<mrdRedOp_t>(mrdNumOps + static_cast<int>(userOps_.size()) - 1);
  return Status::ok();
}

Status Communicator::destroyOp(mrdRedOp_t op) {
  std::lock_guard<std::mutex> g(opsMu_);
  int i = static_cast<int>(op) - mrdNumOps;
  if (i < 0 || i >= static_cast<int>(userOps_.size()) || !userOpLive_[static_cast<size_t>(i)]) {
    return invalidArgument("mrdRedOpDestroy: op " + std::to_string(static_cast<int>(op)) +
                           " is not a live op created on this communicator");
  }
  userOpLive_[static_cast<size_t>(i)] = false;
  return Status::ok();
}

Status Communicator::reduceSpecOf(mrdRedOp_t op, ReduceSpec* spec) const {
  int v = static_cast<int>(op);
  *spec = ReduceSpec{};
  switch (v) {
    case mrdSum: return Status::ok();
    case mrdProd: spec->kind = RedKind::kProd; return Status::ok();
    case mrdMax: spec->kind = RedKind::kMax; return Status::ok();
    case mrdMin: spec->kind = RedKind::kMin; return Status::ok();
    case mrdAvg: spec->average = true; return Status::ok();
    default: break;
  }
  std::lock_guard<std::mutex> g(opsMu_);
  int i = v - mrdNumOps;
  if (i >= 0 && i < static_cast<int>(userOps_.size()) && userOpLive_[static_cast<size_t>(i)]) {
    *spec = userOps_[static_cast<size_t>(i)];
    return Status::ok();
  }
  return invalidArgument("unknown reduction op " + std::to_string(v));
}

void Communicator::abort() {
  abort_.store(true);
  if (initThread_.joinable()) initThread_.join();  // its waits see the flag
  if (bootstrap_) bootstrap_->shutdown();
  stopProgress();
  {
    std::lock_guard<std::mutex> g(workMu_);
    stopping_ = true;
  }
  workCv_.notify_all();
  // Every wait checks the flag at least every few milliseconds: calls on
  // other threads and a running stream job leave. Once none uses the
  // connections, the peers are told why (a goodbye frame, the shared
  // segment's text) before the transports shut; should one not leave in
  // time, the peers see the sockets close without a reason.
  const auto quietBy = std::chrono::steady_clock::now() + kAbortQuietWait;
  bool quiet = false;
  while (!quiet && std::chrono::steady_clock::now() < quietBy) {
    {
      std::lock_guard<std::mutex> g(workMu_);
      quiet = activeCalls_.load() == 0 && !jobRunning_;
    }
    if (!quiet) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (quiet) tellPeersOfAbort();
  for (auto& t : transports_) t->abort();
  while (activeCalls_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void Communicator::initInBackground(const mrdUniqueId& id, int nranks, int rank,
                                    const CommSettings& settings) {
  rank_ = rank;
  nranks_ = nranks;
  settings_ = settings;
  identitySet_ = true;
  asyncError_.store(mrdInProgress);
  initThread_ = std::thread([this, id, nranks, rank, settings] {
    Status st = init(id, nranks, rank, settings);
    if (!st.isOk()) {
      recordFailure(st);
    } else {
      asyncError_.store(st.code());
    }
  });
}

Communicator::~Communicator() {
  hang::unregisterIdle(this);
  if (initThread_.joinable()) {
    abort_.store(true);  // a destroy during init cuts its waits short
    initThread_.join();
  }
  stopProgress();
  stopWorker();
  // The connections close first, each after delivering what it owes
  // (within one budget for all of them, kCloseBudget): a transport's
  // abort() shuts sockets down under data TCP may not have delivered yet
  // (the last eager send of an operation, on a lossy path), and the reset
  // it leads to loses that data. A peer still waiting for this rank sees
  // the close when it comes; shared-memory peers are woken by the abort
  // below. (An aborted communicator shut its sockets already: nothing
  // waits then.)
  const auto budget = std::chrono::steady_clock::now() + kCloseBudget;
  const auto until = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(budget.time_since_epoch()).count());
  for (auto& t : transports_) t->forgetConnections();
  // Relaying is finished first, all links together (within the budget,
  // 1 s at most): once the links go one by one, a frame this rank should pass
  // on, or the ack of a chunk it sent through a relay, is dropped. (Not
  // after a failure: an operation's buffers may be gone; nor after an
  // abort, whose sockets are shut.)
  if (asyncError_.load() == mrdSuccess && !abort_.load()) {
    link::drainRelays(relayLinks_, std::min<uint64_t>(until, monotonicNs() + 1'000'000'000));
  }
  for (link::Link* l : relayLinks_) l->setRouter(nullptr);  // the links go one by one
  for (auto& perPeer : conns_) {
    for (auto& c : perPeer) {
      if (c) c->closeBy(until);
    }
  }
  conns_.clear();
  routers_.clear();
  for (auto& t : transports_) t->abort();
  {
    std::lock_guard<std::mutex> a(Stream::attachMutex());
    std::lock_guard<std::mutex> g(workMu_);
    for (Stream* s : streams_) s->detach();
    streams_.clear();
  }
  magic_ = 0;
}

Status Communicator::split(int color, int key, const CommSettings& settings,
                           Communicator** out) {
  *out = nullptr;
  struct Entry {
    int32_t color, key, rank;
  };
  std::vector<Entry> all(static_cast<size_t>(nranks_));
  all[static_cast<size_t>(rank_)] = Entry{color, key, rank_};
  // Stream work issued before the split runs first, as on every other rank.
  MRD_TRY(drainStreams());
  std::lock_guard<std::mutex> g(execMu_);
  MRD_TRY(bootstrap_->allgather(all.data(), sizeof(Entry)).withContext("mrdCommSplit"));
  std::vector<Entry> mine;
  for (const Entry& e : all) {
    if (color != MRD_SPLIT_NOCOLOR && e.color == color) mine.push_back(e);
  }
  std::stable_sort(mine.begin(), mine.end(), [](const Entry& a, const Entry& b) {
    return a.key != b.key ? a.key < b.key : a.rank < b.rank;
  });
  // The first rank of each color starts a root and shares its id with all.
  std::vector<mrdUniqueId> ids(static_cast<size_t>(nranks_));
  std::memset(ids.data(), 0, ids.size() * sizeof(mrdUniqueId));
  int newRank = -1;
  for (size_t i = 0; i < mine.size(); ++i) {
    if (mine[i].rank == rank_) newRank = static_cast<int>(i);
  }
  if (newRank == 0) {
    MRD_TRY(bootstrap::freshUniqueId(&ids[static_cast<size_t>(rank_)]));
  }
  MRD_TRY(bootstrap_->allgather(ids.data(), sizeof(mrdUniqueId)).withContext("mrdCommSplit"));
  if (newRank < 0) return Status::ok();
  auto* child = new mrdComm();
  Status st = child->init(ids[static_cast<size_t>(mine[0].rank)], static_cast<int>(mine.size()),
                          newRank, settings);
  if (!st.isOk()) {
    delete child;
    return st.withContext("mrdCommSplit(color " + std::to_string(color) + ")");
  }
  *out = child;
  return Status::ok();
}

}  // namespace mrd
