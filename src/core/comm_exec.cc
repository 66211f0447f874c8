// Running operations: planning (algorithm choice, schedule), execution,
// the stream worker, and finalize.
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>

#include "core/algorithm.h"
#include "core/comm.h"
#include "core/datatype.h"
#include "log/log.h"

namespace mrd {

std::string Communicator::describe(const CollRequest* reqs, size_t n) const {
  if (n != 1) return "group of " + std::to_string(n) + " operations";
  const CollRequest& r = reqs[0];
  std::string s = std::string(collName(r.kind)) + " of " + std::to_string(r.count) + " " +
                  dataTypeName(r.type);
  if (r.kind == CollKind::kSend) s += " to peer " + std::to_string(r.root);
  if (r.kind == CollKind::kRecv) s += " from peer " + std::to_string(r.root);
  return s;
}

PlanContext Communicator::planContext() {
  const config::Params& params = config::processParams();
  PlanContext ctx;
  ctx.rank = rank_;
  ctx.nranks = nranks_;
  ctx.nchannels = settings_.nchannels;
  ctx.sliceBytes = static_cast<size_t>(params.chunkBytes);
  ctx.sliceSlots = params.sliceSlots;
  ctx.channelMinBytes = static_cast<size_t>(params.channelMinBytes);
  ctx.scratch = &scratch_;
  ctx.layout = &layout_;
  return ctx;
}

Status Communicator::execute(const CollRequest* reqs, size_t nreqs) {
  OpRunning running(this);
  std::lock_guard<std::mutex> g(execMu_);
  log::ScopedRank scoped(rank_);
  if (abort_.load()) return remoteError("rank " + std::to_string(rank_) + ": communicator aborted");
  // Stream work queued before an earlier operation failed.
  MRD_TRY(refuseIfFailed());
  env_.opSeq = opsStarted_.fetch_add(1) + 1;
  if (config::processParams().checkArgs && callIsChecked(reqs, nreqs)) MRD_TRY(checkArguments(reqs, nreqs));
  // Timed only for the measured trials.
  const auto t0 = tuner_.trialsEnabled() ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  schedule_.clear();
  scratch_.releaseAll();
  trialTickets_.clear();
  PlanContext ctx = planContext();
  // The board takes a call's collective only when it is the call's one
  // collective (a group may add sends and receives, which differ between
  // ranks; collectives do not): every rank then decides alike. The round
  // runs alongside the group's other operations (below). With two
  // collectives neither takes it (one round at a time).
  size_t collectives = 0;
  for (size_t i = 0; i < nreqs; ++i) collectives += reqs[i].kind != CollKind::kSend && reqs[i].kind != CollKind::kRecv;
  if (collectives == 1 && board_.attached()) ctx.boardBytes = board_.capacity();
  std::vector<const CollRequest*> selfSends;  // sends to this rank, matched in order
  size_t selfRecvs = 0;
  // A barrier is a one-byte allreduce: nobody leaves before all arrived.
  CollRequest barrier;
  const CollRequest* boardReq = nullptr;  // the call's collective, when the board takes it
  barrier.kind = CollKind::kAllReduce;
  barrier.sendbuf = &barrierBuf_[0];
  barrier.recvbuf = &barrierBuf_[1];
  barrier.count = 1;
  barrier.type = mrdInt8;
  for (size_t i = 0; i < nreqs; ++i) {
    const CollRequest& original = reqs[i];
    const CollRequest& req = original.kind == CollKind::kBarrier ? barrier : original;
    if ((req.kind == CollKind::kSend || req.kind == CollKind::kRecv) && req.root == rank_) {
      if (req.kind == CollKind::kSend) {
        selfSends.push_back(&original);
        continue;
      }
      if (selfRecvs >= selfSends.size()) {
        return invalidUsage("rank " + std::to_string(rank_) +
                            ": recv from self without an earlier send to self in the group");
      }
      const CollRequest* snd = selfSends[selfRecvs++];
      if (snd->count * dataTypeSize(snd->type) != req.count * dataTypeSize(req.type)) {
        return invalidUsage("rank " + std::to_string(rank_) + ": send to self and recv from self differ in size");
      }
      schedule_.beginOperation(req.type, req.reduce, nranks_);
      schedule_.copy(req.recvbuf, snd->sendbuf, req.count * dataTypeSize(req.type), {});
      continue;
    }
    // Every rank decides the same; rank 0 tells.
    const bool details = decisionToLog(req);
    Status chosen = tuner_.choose(req, ctx, details, &decision_);
    if (!chosen.isOk()) return chosen.withContext("rank " + std::to_string(rank_));
    if (details) logDecision(req, decision_);
    if (decision_.trial.entry >= 0) trialTickets_.push_back(decision_.trial);
    const Algorithm* algo = decision_.algo;
    if (algo == boardAlgo_ && ctx.boardBytes > 0) {
      boardReq = &req;  // runs below, alongside the rest of the call
      continue;
    }
    PlanContext callCtx = ctx;
    callCtx.nchannels = decision_.nchannels;
    callCtx.sliceBytes = decision_.chunkBytes;
    schedule_.beginOperation(req.type, req.reduce, nranks_);
    MRD_TRY(algo->build(req, callCtx, &schedule_));
  }
  if (selfRecvs != selfSends.size()) {
    return invalidUsage("rank " + std::to_string(rank_) + ": send to self without a matching recv from self in the group");
  }
  const auto what = [&] { return describe(reqs, nreqs); };
  Status st = Status::ok();
  if (boardReq != nullptr && schedule_.empty()) {
    st = board_.run(*boardReq, env_, what);
  } else if (boardReq != nullptr) {
    // A group's sends and receives move while the round waits: the peer
    // may need them before it comes to the round (its matching receive in
    // an earlier call).
    st = board_.begin(*boardReq);
    const Executor::SideWork round = [&](bool* moved, bool* done) { return board_.poll(moved, done, what); };
    if (st.isOk()) st = executor_.run(schedule_, env_, what, &round);
  } else if (!schedule_.empty()) {
    st = executor_.run(schedule_, env_, what);
  }
  if (st.isOk() && !trialTickets_.empty()) {
    // A group's time cannot be split among its operations: only a lone
    // operation's time counts for its trial.
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    for (const tuner::TrialTicket& t : trialTickets_) {
      if (nreqs == 1) tuner_.recordTrial(t, us);
      if (t.last) st = agreeOnTrials(t.entry);
      if (!st.isOk()) break;
    }
  }
  if (!st.isOk()) failOperation(st);
  return st;
}

void Communicator::recordFailure(const Status& st) {
  setError(st);
  {
    std::lock_guard<std::mutex> g(errMu_);
    if (failure_.empty()) failure_ = st.message();
  }
  asyncError_.store(st.code());
}

namespace {

// The cause of the first operation that failed in this process, on any
// communicator (tellPeersOfAbort).
std::mutex gFirstFailureMu;
std::string gFirstFailure;

}  // namespace

void Communicator::failOperation(const Status& st) {
  // The peers are told before the failure is recorded: a thread that sees
  // the record (a later call refused, mrdCommGetAsyncError) may end the
  // process at once, and with it the chance to tell them.
  // What the peers are told: the first cause, when this rank failed
  // because a peer did (the chain would grow by a hop per rank).
  // (An operation cut short by mrdCommAbort: the abort's reason.)
  const std::string& m = st.message();
  const size_t at = m.rfind(transport::kPeerFailed);
  const std::string why = abort_.load() ? abortReason()
                          : at == std::string::npos ? m
                                                    : m.substr(at + std::strlen(transport::kPeerFailed));
  if (!abort_.load()) {
    std::lock_guard<std::mutex> g(gFirstFailureMu);
    if (gFirstFailure.empty()) gFirstFailure = why;
  }
  tellPeers(why);
  recordFailure(st);
}

void Communicator::tellPeers(const std::string& why) {
  for (auto& perPeer : conns_) {
    for (auto& c : perPeer) {
      if (c) c->sendFailure(why);
    }
  }
  for (auto& t : transports_) t->fail(why);
}

std::string Communicator::abortReason() const {
  std::string why = "rank " + std::to_string(rank_) + " aborted the communicator (mrdCommAbort)";
  std::lock_guard<std::mutex> g(gFirstFailureMu);
  if (!gFirstFailure.empty()) why += " after an operation of its process failed: " + gFirstFailure;
  return why;
}

void Communicator::tellPeersOfAbort() {
  {
    std::lock_guard<std::mutex> g(errMu_);
    if (!failure_.empty()) return;  // failOperation told them already
  }
  const std::string why = abortReason();
  tellPeers(why);
}

Status Communicator::runInternal(const CollRequest& req, const Executor::Describe& what) {
  // The model's choice, never a trial, never the board (planContext()
  // offers it no room).
  schedule_.clear();
  scratch_.releaseAll();
  PlanContext ctx = planContext();
  tuner::Decision d;
  MRD_TRY(tuner_.choose(req, ctx, false, &d, /*trials=*/false));
  ctx.nchannels = d.nchannels;
  ctx.sliceBytes = d.chunkBytes;
  schedule_.beginOperation(req.type, req.reduce, nranks_);
  MRD_TRY(d.algo->build(req, ctx, &schedule_));
  return executor_.run(schedule_, env_, what);
}

Status Communicator::agreeOnTrials(int entry) {
  // Every rank reaches this after the same call: the ranks add up their
  // timings (integer nanoseconds, so the sum is exact whatever the order)
  // and all settle on the same winner.
  tuner_.trialVotes(entry, &trialVotes_);
  CollRequest sum;
  sum.kind = CollKind::kAllReduce;
  sum.sendbuf = sum.recvbuf = trialVotes_.data();
  sum.count = trialVotes_.size();
  sum.type = mrdUint64;
  MRD_TRY(runInternal(sum, [] { return std::string("the tuner's agreement on its trials"); }));
  std::string line = tuner_.settleTrial(entry, trialVotes_);
  if (rank_ == 0) MRD_LOG_INFO(kTune, "{}", line);
  return Status::ok();
}

Status Communicator::checkArguments(const CollRequest* reqs, size_t nreqs) {
  signatures_.assign(static_cast<size_t>(nranks_), CallSignature{});
  CallSignature& mine = signatures_[static_cast<size_t>(rank_)];
  signatureOf(reqs, nreqs, &mine);
  // An allgather, in place, through the messages (never the board: a
  // board round carries its own check, and this must not depend on it).
  CollRequest ag;
  ag.kind = CollKind::kAllGather;
  ag.sendbuf = &mine;
  ag.recvbuf = signatures_.data();
  ag.count = sizeof(CallSignature);
  ag.type = mrdUint8;
  Status st = runInternal(ag, [&] { return "the argument check (MRD_CHECK_ARGS) of " + describe(reqs, nreqs); });
  if (!st.isOk()) {
    failOperation(st);
    return st;
  }
  // Every rank sees every signature, so every rank fails alike (naming the
  // first rank that differs from it); nothing ran, the communicator stays usable.
  for (int p = 0; p < nranks_; ++p) {
    const std::string diff = compareSignatures(mine, signatures_[static_cast<size_t>(p)], p);
    if (!diff.empty()) {
      return invalidUsage("rank " + std::to_string(rank_) + ": MRD_CHECK_ARGS: " + diff);
    }
  }
  return Status::ok();
}

Status Communicator::refuseIfFailed() const {
  if (asyncError_.load() == mrdSuccess) return Status::ok();
  // The first failure's words: the last error may be an earlier refusal.
  std::string cause;
  {
    std::lock_guard<std::mutex> g(errMu_);
    cause = failure_.empty() ? lastError_ : failure_;
  }
  return Status(asyncError_.load(), "rank " + std::to_string(rank_) + ": the communicator failed earlier (" + cause +
                                        "); destroy or abort it");
}

Status Communicator::queueJob(std::vector<CollRequest>* reqs, Stream* target) {
  if (stopping_) return remoteError("rank " + std::to_string(rank_) + ": communicator aborted");
  target->addPending();
  if (!worker_.joinable()) worker_ = std::thread([this] { workerLoop(); });
  jobs_.push_back(Job{std::move(*reqs), target});
  workCv_.notify_one();
  return Status::ok();
}

Status Communicator::enqueue(std::vector<CollRequest> reqs, Stream* target) {
  MRD_TRY(refuseIfFailed());
  std::lock_guard<std::mutex> g(workMu_);
  return queueJob(&reqs, target);
}

Status Communicator::submit(std::vector<CollRequest> reqs, Stream* stream) {
  MRD_TRY(refuseIfFailed());
  Stream inOrder(this);
  bool queued = false;
  {
    // Checking for queued work and queueing happen under one lock, so an
    // abort cannot slip in between and strand the job.
    std::lock_guard<std::mutex> g(workMu_);
    if (stopping_) return remoteError("rank " + std::to_string(rank_) + ": communicator aborted");
    if (stream != nullptr) return queueJob(&reqs, stream);
    if (!jobs_.empty() || jobRunning_) {
      // Earlier stream work must run first; a blocking call waits for its
      // job through a private stream.
      MRD_TRY(queueJob(&reqs, &inOrder));
      queued = true;
    }
  }
  // Otherwise nothing is queued: run on this thread.
  return queued ? inOrder.synchronize(-1) : execute(reqs);
}

Status Communicator::submitOne(CollRequest&& req, Stream* stream) {
  MRD_TRY(refuseIfFailed());
  bool here = false;
  {
    std::lock_guard<std::mutex> g(workMu_);
    if (stopping_) return remoteError("rank " + std::to_string(rank_) + ": communicator aborted");
    here = stream == nullptr && jobs_.empty() && !jobRunning_;
  }
  if (here) return execute(&req, 1);  // nothing queued: on this thread, as submit() would
  std::vector<CollRequest> one;
  one.push_back(std::move(req));
  return submit(std::move(one), stream);
}

Status Communicator::drainStreams() {
  std::vector<CollRequest> none;
  return submit(std::move(none), nullptr);
}

void Communicator::workerLoop() {
  std::unique_lock<std::mutex> lk(workMu_);
  while (true) {
    workCv_.wait(lk, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) {
      // Destroy or abort: what is still queued will never run.
      for (Job& j : jobs_) {
        j.stream->complete(remoteError("rank " + std::to_string(rank_) +
                                       ": the communicator was destroyed or aborted"));
      }
      jobs_.clear();
      return;
    }
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    jobRunning_ = true;
    lk.unlock();
    Status st = job.reqs.empty() ? Status::ok() : execute(job.reqs);
    if (!st.isOk()) setError(st);
    job.stream->complete(st);
    lk.lock();
    jobRunning_ = false;
  }
}

void Communicator::stopWorker() {
  {
    std::lock_guard<std::mutex> g(workMu_);
    stopping_ = true;
  }
  workCv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

Status Communicator::finalize() {
  Status st = drainStreams();
  finalized_.store(true);
  return st;
}

void Communicator::attachStream(Stream* s) {
  std::lock_guard<std::mutex> g(workMu_);
  streams_.push_back(s);
}

void Communicator::detachStream(Stream* s) {
  std::lock_guard<std::mutex> g(workMu_);
  streams_.erase(std::remove(streams_.begin(), streams_.end(), s), streams_.end());
}

std::mutex& Stream::attachMutex() {
  static std::mutex mu;
  return mu;
}

void Stream::addPending() {
  std::lock_guard<std::mutex> g(mu_);
  ++pending_;
}

void Stream::complete(const Status& st) {
  std::lock_guard<std::mutex> g(mu_);
  --pending_;
  if (!st.isOk() && error_.isOk()) error_ = st;
  // Waking the synchronizing thread for every operation would cost a
  // context switch each; it only cares about the last one.
  if (pending_ == 0) cv_.notify_all();
}

Status Stream::synchronize(int64_t timeoutMs) {
  std::unique_lock<std::mutex> lk(mu_);
  // The operations themselves time out; this bound only guards against a
  // worker that stopped (communicator destroyed) with work left.
  auto done = [this] { return pending_ == 0; };
  if (timeoutMs < 0) {
    cv_.wait(lk, done);
  } else if (!cv_.wait_for(lk, std::chrono::milliseconds(timeoutMs), done)) {
    return timeoutError("stream synchronize: work still pending after " +
                        std::to_string(timeoutMs) + " ms");
  }
  return error_;
}

mrdResult_t Stream::query() {
  std::lock_guard<std::mutex> g(mu_);
  if (pending_ > 0) return mrdInProgress;
  return error_.code();
}

}  // namespace mrd
