// The executor runs one Schedule to completion for one rank: it starts each
// step when its dependencies are done, keeps transfers to each (peer,
// channel) in schedule order, drives the connections, and waits without
// burning a core: it polls (yielding) for MRD_SPIN_US after the last
// progress, then sleeps on the shm doorbell or in poll() on the sockets.
// It gives up after MRD_TIMEOUT_MS without progress, or at once on abort,
// with a message naming the rank, the peer and the step.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "core/hang_report.h"
#include "core/schedule.h"
#include "transport/transport.h"

namespace mrd {

// A peer on another core answers within this (us): waiting polls that long
// before yielding.
constexpr int64_t kPurePollUs = 3;

struct ExecutionEnv {
  int rank = 0;
  int nranks = 1;
  int nchannels = 1;
  transport::ConnectionTable* conns = nullptr;        // [peer][channel]
  std::vector<transport::Transport*> transports;      // those in use
  std::vector<std::vector<uint64_t>>* sendSeq = nullptr;  // [peer][channel] message tags
  std::vector<std::vector<uint64_t>>* recvSeq = nullptr;
  const std::atomic<bool>* abort = nullptr;
  int64_t timeoutMs = 0;
  int64_t spinUs = 0;
  int64_t hangReportMs = 0;  // MRD_HANG_REPORT_MS (core/hang_report.h)
  uint64_t opSeq = 0;        // this communicator's operation number, for reports
  std::string commTag;       // the communicator's tag, for reports
  // Of spinUs, how long a waiting rank polls before it starts yielding its
  // core between polls (0 when the host has more of the job's ranks than cores).
  int64_t purePollUs = kPurePollUs;
  // Progressed by every operation, used or not: links that may have to
  // relay other ranks' frames (core/comm_relay.cc).
  std::vector<transport::Connection*> alwaysProgress;
};

class Executor {
 public:
  // Blocks until every step is done or an error occurs. `what` names the
  // operation in error messages ("allreduce of 1024 float"); it is only
  // called on the error path.
  using Describe = std::function<std::string()>;
  // Work that must move alongside the schedule (a board round of the same
  // call): polled every round until it says done; run() returns only then.
  using SideWork = std::function<Status(bool* moved, bool* done)>;
  Status run(const Schedule& schedule, const ExecutionEnv& env, const Describe& what,
             const SideWork* side = nullptr);

 private:
  struct Queue {  // transfers on one (peer, channel, direction), in order
    std::vector<int> steps;
    size_t posted = 0;
    size_t completed = 0;
    transport::Connection* conn = nullptr;
    bool isSend = false;
  };

  void prepare(const Schedule& s, const ExecutionEnv& env);
  void markDone(int step);
  void runLocal(const Schedule& s, int step);
  Status postReady(const Schedule& s, const ExecutionEnv& env, bool* moved);
  Status progressConnections(bool* moved);
  void collectCompletions(bool* moved);
  void idle(const ExecutionEnv& env, bool* moved, Status* err);
  Status pollSide(bool* moved);
  void sleepOnFds(int64_t timeoutUs);  // ppoll on pollFds_
  Status flushConnections(const ExecutionEnv& env, const Describe& what);
  Status stuckError(const Schedule& s, const ExecutionEnv& env, const Describe& what,
                    int64_t waitedMs) const;
  // What the operation waits on: the first unfinished posted transfer
  // (receives first), its place in its queue, and its link's state; with
  // `all` also the other unfinished ones (up to kReportedTransfers).
  std::string describeWait(const Schedule& s, bool all = false) const;
  std::string describeTransfer(const Schedule& s, const Queue& q) const;
  static constexpr int kReportedTransfers = 6;
  void logHangReport(const Schedule& s, const ExecutionEnv& env, const Describe& what,
                     int64_t waitedMs) const;

  // Reused from run to run so a steady stream of operations does not allocate.
  std::vector<uint32_t> waiting_;   // unfinished dependencies per step
  std::vector<uint32_t> succBegin_, succ_;
  std::vector<uint8_t> done_;
  std::vector<transport::Request> requests_;
  std::vector<int> ready_;          // local steps whose dependencies are done
  std::vector<Queue> queues_;
  std::vector<int> queueOf_;        // key (peer, channel, dir) -> index in queues_
  std::vector<transport::Connection*> activeConns_;
  // env.alwaysProgress not among them: moved every kExtraEvery-th round
  // and before sleeping (they only pass on other ranks' frames).
  std::vector<transport::Connection*> extraConns_;
  static constexpr unsigned kExtraEvery = 16;
  unsigned round_ = 0;
  std::vector<pollfd> pollFds_;
  hang::WaitReporter hangReporter_;
  const SideWork* side_ = nullptr;  // run()'s side work and whether it is done
  bool* sideDone_ = nullptr;
  std::vector<uint32_t> fill_;   // cursors while building succ_
  std::vector<uint8_t> local_;   // step runs on this rank (copy, reduce, ...)
  size_t doneCount_ = 0;
};

}  // namespace mrd
