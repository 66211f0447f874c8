// The communicator: who we are (rank, size), how we reach each peer (the
// bootstrap and one connection per peer and channel), and how operations
// run (planner + executor, serialised, plus an optional stream worker).
// The C handle mrdComm_t points at one of these.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "config/params.h"
#include "core/arg_check.h"
#include "core/coll_request.h"
#include "core/executor.h"
#include "core/hang_report.h"
#include "core/local_board.h"
#include "core/schedule.h"
#include "core/status.h"
#include "topo/job_layout.h"
#include "transport/transport.h"
#include "link/link.h"
#include "link/relay_router.h"
#include "tuner/tuner.h"

namespace mrd {

class Stream;

// Settings of one communicator: the process parameters, overridden by the
// caller's mrdConfig_t.
struct CommSettings {
  int64_t timeoutMs = 0;
  int nchannels = 1;
  std::string name;
  bool blocking = true;  // false: init returns mrdInProgress and finishes in the background
  bool nchannelsForced = false;  // MRD_NCHANNELS: always use nchannels
  int minChannels = 1;           // the config's floor for the tuner
};

class Communicator {
 public:
  static constexpr uint32_t kMagic = 0x6d72636d;  // "mrcm"

  Communicator() = default;
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  // Joins the job: bootstrap, transport selection, connections. Blocking.
  Status init(const mrdUniqueId& id, int nranks, int rank, const CommSettings& settings);
  // The same on a thread of its own: asyncError() says mrdInProgress until
  // it is done, then its result (NCCL's non-blocking init).
  void initInBackground(const mrdUniqueId& id, int nranks, int rank,
                        const CommSettings& settings);

  bool valid() const { return magic_ == kMagic; }
  int rank() const { return rank_; }
  int nranks() const { return nranks_; }
  const CommSettings& settings() const { return settings_; }
  bool finalized() const { return finalized_.load(); }
  bool aborted() const { return abort_.load(); }

  // Runs operations (one, or a group) in issue order. stream == nullptr:
  // returns when they are done on this rank. Otherwise queued on the
  // communicator's worker thread.
  Status submit(std::vector<CollRequest> reqs, Stream* stream);
  // One operation: as submit(), without building a vector when it runs
  // on the calling thread (the common case of a blocking call).
  Status submitOne(CollRequest&& req, Stream* stream);
  // Always through the worker, even when nothing else is queued: for groups
  // spanning several communicators, which must progress concurrently.
  Status enqueue(std::vector<CollRequest> reqs, Stream* target);
  // Waits for queued stream work, then refuses new operations.
  Status finalize();
  // Makes every wait on this communicator (here and, through closed
  // connections, at the peers) return an error, then waits for callers to leave.
  void abort();

  Status split(int color, int key, const CommSettings& settings, Communicator** out);
  // Waits until the stream work queued so far has run.
  Status drainStreams();

  // User-defined reduction ops (PreMulSum).
  Status createPreMulSum(double scalar, mrdRedOp_t* op);
  Status destroyOp(mrdRedOp_t op);
  Status reduceSpecOf(mrdRedOp_t op, ReduceSpec* spec) const;

  void setError(const Status& st);
  std::string lastError() const;
  mrdResult_t asyncError() const { return asyncError_.load(); }

  // Counts callers inside the communicator so abort/destroy wait for them.
  class CallGuard {
   public:
    explicit CallGuard(Communicator* c) : c_(c) { c_->activeCalls_.fetch_add(1); }
    ~CallGuard() { c_->activeCalls_.fetch_sub(1); }
    CallGuard(const CallGuard&) = delete;
    CallGuard& operator=(const CallGuard&) = delete;

   private:
    Communicator* c_;
  };

  // The paths of the links to `peer` (comm_link.cc), every channel.
  Status linkStats(int peer, std::vector<link::PathStats>* out, std::vector<int>* channels);

  // Stream bookkeeping (stream.cc).
  void attachStream(Stream* s);
  void detachStream(Stream* s);

 private:
  Status setupTransports();
  // Relaying through a third host (comm_relay.cc): with links to ranks on
  // three or more hosts and MRD_REROUTE on, one router per channel and a
  // progress thread that moves the links between operations (a relay must
  // pass on frames whatever its own user is doing).
  Status setupRelays();
  void progressLoop();
  void stopProgress();
  // Counts operations (execute) running or waiting for execMu_, and when
  // the last one ended: the progress thread keeps out of their way.
  class OpRunning {
   public:
    explicit OpRunning(Communicator* c);
    ~OpRunning();
    OpRunning(const OpRunning&) = delete;
    OpRunning& operator=(const OpRunning&) = delete;

   private:
    Communicator* c_;
  };
  // Job layout, link calibration and the tuner (comm_tune.cc).
  Status setupTuner();
  Status calibrate(tuner::MachineModel* out);
  Status timePingPong(int peer, bool initiator, size_t bytes, int reps, double* bestUs,
                      double* medianUs = nullptr);
  // network: also timed with a long message (a shaper's bucket may hide
  // the rate from a short one).
  Status measureLink(const std::vector<int>& members, bool network, float* alphaUs, float* betaUsPerByte);
  // Rank 0 logs each (collective, power-of-two size) decision once, at INFO.
  bool decisionToLog(const CollRequest& req);
  void logDecision(const CollRequest& req, const tuner::Decision& d);
  Status execute(const CollRequest* reqs, size_t n);
  Status execute(const std::vector<CollRequest>& reqs) { return execute(reqs.data(), reqs.size()); }
  PlanContext planContext();
  // After a size's last trial: the ranks agree on its fastest algorithm.
  Status agreeOnTrials(int entry);
  // A collective of the library's own (trial votes, argument checks), in
  // the middle of an execute().
  Status runInternal(const CollRequest& req, const Executor::Describe& what);
  // MRD_CHECK_ARGS: the ranks compare the call before it runs (arg_check.h).
  Status checkArguments(const CollRequest* reqs, size_t n);
  Status refuseIfFailed() const;
  // An operation failed part-way: the communicator is unusable from here on
  // (its connections may hold half-sent messages), and its peers are told
  // at once with the reason (Transport::fail), so that ranks waiting on
  // this one fail now, naming the cause, instead of at their timeout.
  void failOperation(const Status& st);
  // Only the record: asyncError_, the last error and failure_.
  void recordFailure(const Status& st);
  // mrdCommAbort of a communicator that had not failed: its peers are
  // told who aborted and, if an operation of this process failed before
  // (on any communicator), that failure's cause (a survivor then names
  // the rank that died, not only the one that gave up). Only once no call
  // and no stream job uses the connections.
  void tellPeersOfAbort();
  std::string abortReason() const;
  // Every connection and transport: this rank gave up, for `why`.
  void tellPeers(const std::string& why);
  Status queueJob(std::vector<CollRequest>* reqs, Stream* target);  // workMu_ held

  void workerLoop();
  void stopWorker();
  std::string describe(const CollRequest* reqs, size_t n) const;
  // For core/hang_report.h: "" while an operation is in flight.
  std::string idleHangReport() const;

  uint32_t magic_ = kMagic;
  int rank_ = 0;
  int nranks_ = 1;
  bool identitySet_ = false;  // rank_, nranks_, settings_ (by initInBackground)
  CommSettings settings_;
  std::string commTag_;
  std::atomic<bool> abort_{false};
  std::atomic<bool> finalized_{false};
  std::atomic<mrdResult_t> asyncError_{mrdSuccess};
  std::atomic<int> activeCalls_{0};

  std::unique_ptr<bootstrap::Bootstrap> bootstrap_;
  std::vector<std::unique_ptr<transport::Transport>> transports_;
  transport::ConnectionTable conns_;
  std::vector<std::vector<uint64_t>> sendSeq_, recvSeq_;
  ExecutionEnv env_;

  // Execution: one operation (or group) at a time.
  std::mutex execMu_;
  Schedule schedule_;
  ScratchPool scratch_;
  Executor executor_;
  LocalBoard board_;  // small collectives when every rank is on this host
  const Algorithm* boardAlgo_ = nullptr;  // the registry's "board", which board_ runs
  tuner::Tuner tuner_;
  tuner::Decision decision_;
  std::vector<tuner::TrialTicket> trialTickets_;  // this execute's trial calls
  std::vector<uint64_t> trialVotes_;
  topo::JobLayout layout_;
  std::vector<uint64_t> loggedDecisions_;  // (kind, log2 bytes) already logged
  int8_t barrierBuf_[2] = {0, 0};
  std::vector<CallSignature> signatures_;  // checkArguments' exchange, one per rank

  // The stream worker: started by the first mrdStreamCreate.
  struct Job {
    std::vector<CollRequest> reqs;
    Stream* stream;
  };
  std::mutex workMu_;
  std::condition_variable workCv_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  bool jobRunning_ = false;
  std::thread worker_;
  std::thread initThread_;
  std::vector<Stream*> streams_;

  std::vector<std::unique_ptr<link::RelayRouter>> routers_;
  std::vector<link::Link*> relayLinks_;  // every link of a router, all channels
  // What the progress thread moves between operations: relayLinks_, and
  // links of more than one path (a chunk on a path that died after its
  // operation ended goes again on another, though this rank is busy in
  // another communicator: soak finding 5).
  std::vector<link::Link*> progressLinks_;
  std::thread progressThread_;
  std::mutex progMu_;              // progStop_, progCv_
  std::condition_variable progCv_;
  bool progStop_ = false;
  std::atomic<int> opsRunning_{0};
  std::atomic<uint64_t> opsStarted_{0};  // numbers the operations (hang reports)
  std::atomic<uint64_t> lastOpEndNs_{0};  // CLOCK_MONOTONIC
  // The thread steps in only after this long without an operation: back
  // to back, operations move the links themselves, and a thread waking
  // between them would only take turns with them for the cores and execMu_.
  static constexpr uint64_t kProgressIdleNs = 1'000'000;
  int progWakeFd_ = -1;  // eventfd: wakes the progress thread's poll to stop

  mutable std::mutex errMu_;
  std::string lastError_;
  std::string failure_;  // the error that made the communicator unusable (the first)

  mutable std::mutex opsMu_;
  std::vector<ReduceSpec> userOps_;
  std::vector<bool> userOpLive_;
};

// A stream: operations issued on it run in order on the communicator's
// worker; Synchronize waits for them.
class Stream {
 public:
  explicit Stream(Communicator* c) : comm_(c) {}
  Communicator* comm() const { return comm_.load(); }
  // Held while a stream leaves its communicator (mrdStreamDestroy) and while
  // a communicator being destroyed lets go of its streams, which may happen
  // on two threads at once (destroy beside an abort).
  static std::mutex& attachMutex();
  void addPending();
  void complete(const Status& st);
  Status synchronize(int64_t timeoutMs);
  mrdResult_t query();
  void detach() { comm_.store(nullptr); }

 private:
  std::atomic<Communicator*> comm_;
  std::mutex mu_;
  std::condition_variable cv_;
  int pending_ = 0;
  Status error_;
};

}  // namespace mrd

// The opaque C handles.
struct mrdComm : public mrd::Communicator {};
struct mrdStream : public mrd::Stream {
  using Stream::Stream;
};
