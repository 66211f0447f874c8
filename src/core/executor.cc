#include "core/executor.h"

#include <poll.h>
#include <time.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/datatype.h"
#include "core/reduce.h"

namespace mrd {
namespace {

using Clock = std::chrono::steady_clock;

int64_t usSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count();
}

bool isTransfer(StepKind k) { return k == StepKind::kSend || k == StepKind::kRecv; }

}  // namespace

void Executor::prepare(const Schedule& s, const ExecutionEnv& env) {
  const auto& steps = s.steps();
  const auto& deps = s.deps();
  const size_t n = steps.size();
  waiting_.assign(n, 0);
  done_.assign(n, 0);
  local_.assign(n, 0);
  requests_.assign(n, transport::Request{});
  succBegin_.assign(n + 1, 0);
  ready_.clear();
  doneCount_ = 0;
  // Successor lists in CSR form: count, prefix-sum, fill.
  for (size_t i = 0; i < n; ++i) {
    waiting_[i] = steps[i].depCount;
    for (uint32_t d = 0; d < steps[i].depCount; ++d) ++succBegin_[deps[steps[i].depBegin + d] + 1];
  }
  for (size_t i = 0; i < n; ++i) succBegin_[i + 1] += succBegin_[i];
  succ_.assign(succBegin_[n], 0);
  std::vector<uint32_t>& fill = fill_;
  fill.assign(succBegin_.begin(), succBegin_.end() - 1);
  for (size_t i = 0; i < n; ++i) {
    for (uint32_t d = 0; d < steps[i].depCount; ++d) {
      succ_[fill[deps[steps[i].depBegin + d]]++] = static_cast<uint32_t>(i);
    }
  }
  // One queue per (peer, channel, direction) that this schedule uses.
  const size_t keys = static_cast<size_t>(env.nranks) * env.nchannels * 2;
  queueOf_.assign(keys, -1);
  queues_.clear();
  activeConns_.clear();
  for (size_t i = 0; i < n; ++i) {
    const Step& st = steps[i];
    if (!isTransfer(st.kind)) {
      local_[i] = 1;
      if (waiting_[i] == 0) ready_.push_back(static_cast<int>(i));
      continue;
    }
    bool send = st.kind == StepKind::kSend;
    size_t key = (static_cast<size_t>(st.peer) * env.nchannels + st.channel) * 2 + (send ? 1 : 0);
    if (queueOf_[key] < 0) {
      queueOf_[key] = static_cast<int>(queues_.size());
      Queue q;
      q.conn = (*env.conns)[static_cast<size_t>(st.peer)][static_cast<size_t>(st.channel)].get();
      q.isSend = send;
      queues_.push_back(std::move(q));
      bool known = false;
      for (auto* c : activeConns_) known = known || c == queues_.back().conn;
      if (!known) activeConns_.push_back(queues_.back().conn);
    }
    queues_[static_cast<size_t>(queueOf_[key])].steps.push_back(static_cast<int>(i));
  }
  extraConns_.clear();
  for (auto* c : env.alwaysProgress) {
    if (std::find(activeConns_.begin(), activeConns_.end(), c) == activeConns_.end()) extraConns_.push_back(c);
  }
}

void Executor::markDone(int step) {
  done_[static_cast<size_t>(step)] = 1;
  ++doneCount_;
  for (uint32_t j = succBegin_[static_cast<size_t>(step)]; j < succBegin_[static_cast<size_t>(step) + 1]; ++j) {
    uint32_t next = succ_[j];
    if (--waiting_[next] == 0 && local_[next]) ready_.push_back(static_cast<int>(next));
  }
}

void Executor::runLocal(const Schedule& s, int i) {
  const Step& st = s.steps()[static_cast<size_t>(i)];
  switch (st.kind) {
    case StepKind::kCopy:
      std::memmove(st.dst, st.a, st.bytes);
      break;
    case StepKind::kReduce: {
      const auto& t = s.typedFor(static_cast<size_t>(i));
      reduceArrays(st.dst, st.a, st.b, st.count, t.type, t.spec.kind);
      break;
    }
    case StepKind::kScale: {
      const auto& t = s.typedFor(static_cast<size_t>(i));
      scaleInto(st.dst, st.a, st.count, t.type, t.spec.scalar);
      break;
    }
    case StepKind::kDivide: {
      const auto& t = s.typedFor(static_cast<size_t>(i));
      divideInPlace(st.dst, st.count, t.type, t.nranks);
      break;
    }
    default:
      break;
  }
}

Status Executor::postReady(const Schedule& s, const ExecutionEnv& env, bool* moved) {
  for (Queue& q : queues_) {
    while (q.posted < q.steps.size()) {
      int i = q.steps[q.posted];
      if (waiting_[static_cast<size_t>(i)] != 0) break;
      const Step& st = s.steps()[static_cast<size_t>(i)];
      transport::Request& r = requests_[static_cast<size_t>(i)];
      auto& seq = q.isSend ? *env.sendSeq : *env.recvSeq;
      r.tag = seq[static_cast<size_t>(st.peer)][static_cast<size_t>(st.channel)]++;
      r.bytes = st.bytes;
      if (q.isSend) {
        r.buf = const_cast<void*>(st.a);
        MRD_TRY(q.conn->postSend(&r));
      } else {
        r.buf = st.dst;
        MRD_TRY(q.conn->postRecv(&r));
      }
      ++q.posted;
      *moved = true;
    }
  }
  return Status::ok();
}

Status Executor::progressConnections(bool* moved) {
  for (auto* c : activeConns_) MRD_TRY(c->progress(moved));
  if (++round_ % kExtraEvery == 0) {
    // (Their moving is not this operation's: it must not hold off its timeout.)
    bool relayed = false;
    for (auto* c : extraConns_) MRD_TRY(c->progress(&relayed));
  }
  return Status::ok();
}

void Executor::collectCompletions(bool* moved) {
  for (Queue& q : queues_) {
    while (q.completed < q.posted && requests_[static_cast<size_t>(q.steps[q.completed])].done) {
      markDone(q.steps[q.completed]);
      ++q.completed;
      *moved = true;
    }
  }
}

void Executor::idle(const ExecutionEnv& env, bool* moved, Status* err) {
  // Links that only pass on other ranks' frames are moved before any sleep.
  for (auto* c : extraConns_) {
    bool relayed = false;
    *err = c->progress(&relayed);
    if (!err->isOk()) return;
  }
  // Sleep on the doorbell only when a connection of this schedule rings it.
  transport::Transport* bell = nullptr;
  bool anyDoorbellConn = false;
  pollFds_.clear();
  for (auto* c : activeConns_) {
    c->addPollFds(&pollFds_);
    anyDoorbellConn = anyDoorbellConn || c->ringsDoorbell();
  }
  for (auto* c : extraConns_) c->addPollFds(&pollFds_);
  for (auto* t : env.transports) {
    if (anyDoorbellConn && t->hasDoorbell()) bell = t;
  }
  // Connections with timers (link probes, stall checks) cap the sleep.
  int64_t timerUs = -1;
  for (const auto* list : {&activeConns_, &extraConns_}) {
    for (auto* c : *list) {
      int64_t t = c->timerDueUs();
      if (t >= 0 && (timerUs < 0 || t < timerUs)) timerUs = t;
    }
  }
  auto capUs = [&](int64_t us) { return timerUs >= 0 && timerUs < us ? timerUs : us; };
  if (bell != nullptr && !pollFds_.empty() && bell->wakeFd() >= 0) {
    // Shared memory and sockets both: one poll() on the sockets and the
    // doorbell's descriptor, so neither kind waits for the other's timeout.
    bell->prepareSleepOnFd();
    *err = progressConnections(moved);
    if (err->isOk()) *err = pollSide(moved);
    if (!*moved && err->isOk()) {
      pollFds_.push_back(pollfd{bell->wakeFd(), POLLIN, 0});
      sleepOnFds(capUs(20000));
    }
    bell->endSleep();
    return;
  }
  if (bell != nullptr) {
    bell->prepareSleep();
    *err = progressConnections(moved);
    if (err->isOk()) *err = pollSide(moved);
    if (!*moved && err->isOk()) bell->sleep(static_cast<int>(capUs(pollFds_.empty() ? 20000 : 1000)));
    bell->endSleep();
  }
  if (!*moved && err->isOk() && !pollFds_.empty()) {
    sleepOnFds(bell != nullptr ? 0 : capUs(20000));
  } else if (bell == nullptr) {
    // Nothing to block on (no doorbell, no socket wants attention): nap
    // briefly rather than spin.
    usleep(static_cast<useconds_t>(capUs(100)));
  }
}

void Executor::sleepOnFds(int64_t timeoutUs) {
  timespec ts{static_cast<time_t>(timeoutUs / 1000000), static_cast<long>(timeoutUs % 1000000) * 1000};
  ppoll(pollFds_.data(), pollFds_.size(), &ts, nullptr);
}

std::string Executor::describeTransfer(const Schedule& s, const Queue& q) const {
  const Step& st = s.steps()[static_cast<size_t>(q.steps[q.completed])];
  std::string d = std::string("waiting to ") + (q.isSend ? "send " : "receive ") + std::to_string(st.bytes) +
                  " bytes " + (q.isSend ? "to" : "from") + " peer " + std::to_string(st.peer) + " on channel " +
                  std::to_string(st.channel) + " (" + (q.isSend ? "send " : "receive ") +
                  std::to_string(q.completed + 1) + " of " + std::to_string(q.steps.size()) +
                  " with that peer and channel";
  const std::string state = q.conn != nullptr ? q.conn->describeState() : std::string();
  return state.empty() ? d + ")" : d + ") [" + state + "]";
}

std::string Executor::describeWait(const Schedule& s, bool all) const {
  // Name a transfer that is posted and unfinished, receives first: that is
  // the peer we are really waiting for (unposted ones wait on earlier steps).
  // With `all`, the other unfinished posted transfers follow (a send stuck
  // in its link shows there).
  std::string first;
  std::string others;
  int more = 0;
  std::vector<const transport::Connection*> shown;  // links described
  for (int pass = 0; pass < 2; ++pass) {
    for (const Queue& q : queues_) {
      if (q.completed >= q.posted || q.isSend != (pass == 1)) continue;
      if (first.empty()) {
        first = describeTransfer(s, q);
        shown.push_back(q.conn);
        if (!all) break;
      } else if (++more <= kReportedTransfers) {
        others += "; also " + describeTransfer(s, q);
        shown.push_back(q.conn);
      }
    }
    if (!first.empty() && !all) break;
  }
  const std::string steps = std::to_string(doneCount_) + " of " + std::to_string(s.steps().size()) + " steps done";
  if (more > kReportedTransfers) others += "; and " + std::to_string(more - kReportedTransfers) + " more";
  if (all) {
    // The links whose transfers are all done here may still hold what this
    // rank sent (a send completes once its link has it).
    for (const Queue& q : queues_) {
      if (q.conn == nullptr || q.steps.empty() || q.posted == 0) continue;
      if (std::find(shown.begin(), shown.end(), q.conn) != shown.end()) continue;
      shown.push_back(q.conn);
      const Step& st = s.steps()[static_cast<size_t>(q.steps.front())];
      const std::string state = q.conn->describeState();
      if (!state.empty()) {
        others += "; link to peer " + std::to_string(st.peer) + " on channel " + std::to_string(st.channel) + " [" +
                  state + "]";
      }
    }
  }
  if (first.empty()) return "no transfer is waiting on a peer (" + steps + ")" + others;
  return first + "; " + steps + others;
}

Status Executor::stuckError(const Schedule& s, const ExecutionEnv& env, const Describe& what,
                            int64_t waitedMs) const {
  return timeoutError("rank " + std::to_string(env.rank) + ": " + what() + ": no progress for " +
                      std::to_string(waitedMs) + " ms (MRD_TIMEOUT_MS), " + describeWait(s));
}

void Executor::logHangReport(const Schedule& s, const ExecutionEnv& env, const Describe& what,
                             int64_t waitedMs) const {
  const std::string wait = !*sideDone_ && doneCount_ == s.steps().size()
                               ? std::string("waiting on the shared-memory board")
                               : describeWait(s, /*all=*/true);
  hang::emit("rank " + std::to_string(env.rank) + ": " + hang::kMarker + " operation " + std::to_string(env.opSeq) +
             " (" + what() + ") on communicator " + env.commTag + " without progress for " + std::to_string(waitedMs) +
             " ms: " + wait);
}

Status Executor::pollSide(bool* moved) {
  // Looked at once more after announcing a sleep, like the connections:
  // a peer that published meanwhile rang the doorbell, or is seen here.
  return side_ != nullptr && !*sideDone_ ? (*side_)(moved, sideDone_) : Status::ok();
}

Status Executor::run(const Schedule& s, const ExecutionEnv& env, const Describe& what, const SideWork* side) {
  prepare(s, env);
  const size_t total = s.steps().size();
  auto lastMove = Clock::now();
  bool sideDone = side == nullptr;
  side_ = side;
  sideDone_ = &sideDone;
  hangReporter_.start(env.hangReportMs);
  while (doneCount_ < total || !sideDone) {
    if (env.abort != nullptr && env.abort->load(std::memory_order_relaxed)) {
      return remoteError("rank " + std::to_string(env.rank) + ": " + what() +
                         ": the communicator was aborted");
    }
    bool moved = false;
    if (!sideDone) MRD_TRY((*side)(&moved, &sideDone));
    while (!ready_.empty()) {
      int i = ready_.back();
      ready_.pop_back();
      runLocal(s, i);
      markDone(i);
      moved = true;
    }
    Status st = postReady(s, env, &moved);
    if (st.isOk()) st = progressConnections(&moved);
    if (!st.isOk()) return st.withContext(what());
    collectCompletions(&moved);
    if (moved) {
      lastMove = Clock::now();
      hangReporter_.progressed();
      continue;
    }
    int64_t waited = usSince(lastMove);
    if (waited < env.spinUs) {
      // The first microseconds are pure polling (a peer on the other core
      // answers within them); after that, give the core to ranks that
      // share it, since on an oversubscribed host they are who we wait for.
      if (waited >= env.purePollUs) sched_yield();
      continue;
    }
    if (waited / 1000 >= env.timeoutMs) {
      if (!sideDone && doneCount_ == total) {
        return timeoutError("rank " + std::to_string(env.rank) + ": " + what() + ": no progress for " +
                            std::to_string(waited / 1000) + " ms (MRD_TIMEOUT_MS), waiting on the shared-memory board");
      }
      return stuckError(s, env, what, waited / 1000);
    }
    if (hangReporter_.due(waited / 1000)) logHangReport(s, env, what, waited / 1000);
    idle(env, &moved, &st);
    if (!st.isOk()) return st.withContext(what());
    collectCompletions(&moved);
    if (moved) {
      lastMove = Clock::now();
      hangReporter_.progressed();
    }
  }
  return flushConnections(env, what);
}

Status Executor::flushConnections(const ExecutionEnv& env, const Describe& what) {
  // A peer may still wait for something only we can send (an ack behind a
  // half-written frame): nothing moves a connection between operations.
  const auto start = Clock::now();
  while (true) {
    bool all = true;
    for (auto* c : activeConns_) {
      bool idle = true;
      Status st = c->flush(&idle);
      if (!st.isOk()) return st.withContext(what());
      all = all && idle;
    }
    if (all) return Status::ok();
    if (env.abort != nullptr && env.abort->load(std::memory_order_relaxed)) {
      return remoteError("rank " + std::to_string(env.rank) + ": " + what() + ": the communicator was aborted");
    }
    if (usSince(start) / 1000 >= env.timeoutMs) {
      return timeoutError("rank " + std::to_string(env.rank) + ": " + what() +
                          ": could not finish sending control frames for " +
                          std::to_string(usSince(start) / 1000) + " ms (MRD_TIMEOUT_MS)");
    }
    sched_yield();
  }
}

}  // namespace mrd
