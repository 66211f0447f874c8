// Relaying through a third host: the routers (link/relay_router.h), and
// the progress thread that moves the links while no operation does (those
// of a router, and any of several paths).
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "core/comm.h"
#include "core/mono_clock.h"
#include "log/log.h"

namespace mrd {

// (Counted whether or not the thread runs: no lock, no wake-up, per operation.)
Communicator::OpRunning::OpRunning(Communicator* c) : c_(c) { c_->opsRunning_.fetch_add(1); }

Communicator::OpRunning::~OpRunning() {
  // Only the progress thread reads it (communicators with none skip the
  // clock).
  if (!c_->progressLinks_.empty()) c_->lastOpEndNs_.store(monotonicNs());
  c_->opsRunning_.fetch_sub(1);
}

Status Communicator::setupRelays() {
  if (!config::processParams().reroute) return Status::ok();
  // A relay sits on a third host; with two, the link's own paths are all there is.
  for (int c = 0; c < settings_.nchannels && layout_.nhosts >= 3; ++c) {
    auto router = std::make_unique<link::RelayRouter>(rank_, layout_.hostOf);
    bool any = false;
    for (int p = 0; p < nranks_; ++p) {
      auto* l = dynamic_cast<link::Link*>(conns_[static_cast<size_t>(p)][static_cast<size_t>(c)].get());
      if (l == nullptr) continue;  // shared memory, a plug-in: not relayed
      l->setRouter(router.get());
      relayLinks_.push_back(l);
      env_.alwaysProgress.push_back(l);
      any = true;
    }
    if (any) routers_.push_back(std::move(router));
  }
  progressLinks_ = relayLinks_;
  if (relayLinks_.empty()) {
    for (auto& perPeer : conns_) {
      for (auto& conn : perPeer) {
        auto* l = dynamic_cast<link::Link*>(conn.get());
        if (l != nullptr && l->pathCount() > 1) progressLinks_.push_back(l);
      }
    }
  }
  if (progressLinks_.empty()) return Status::ok();
  progWakeFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (progWakeFd_ < 0) return systemError("rank " + std::to_string(rank_) + ": eventfd for the link progress thread");
  progressThread_ = std::thread([this] { progressLoop(); });
  MRD_LOG_INFO(kNet, "rank {}: progress thread started for {} link(s) ({} may relay through a third host)", rank_,
               progressLinks_.size(), relayLinks_.size());
  return Status::ok();
}

void Communicator::progressLoop() {
  log::ScopedRank scoped(rank_);
  std::vector<pollfd> fds;
  std::vector<bool> failed(progressLinks_.size(), false);
  while (true) {
    {
      // Until no operation has run for kProgressIdleNs (checked every so
      // often rather than woken by each operation's end).
      std::unique_lock<std::mutex> lk(progMu_);
      while (!progStop_) {
        const uint64_t sinceNs = monotonicNs() - lastOpEndNs_.load();
        if (opsRunning_.load() == 0 && sinceNs >= kProgressIdleNs) break;
        progCv_.wait_for(lk, std::chrono::nanoseconds(kProgressIdleNs));
      }
      if (progStop_) return;
      if (asyncError_.load() != mrdSuccess) {
        // An operation failed: the links may still hold the user's buffers
        // (posted receives, sends), which the user may free now.
        progCv_.wait_for(lk, std::chrono::milliseconds(100));
        continue;
      }
    }
    fds.clear();
    int64_t timerUs = -1;
    {
      std::unique_lock<std::mutex> ex(execMu_, std::try_to_lock);
      if (!ex.owns_lock()) {
        // Someone else reads the links (stats, a split): not for long.
        usleep(1000);
        continue;
      }
      for (size_t i = 0; i < progressLinks_.size(); ++i) {
        if (failed[i]) continue;
        bool moved = false;
        Status st = progressLinks_[i]->progress(&moved);
        if (!st.isOk()) {
          // The communicator failed, as if an operation had met it: the
          // next one refuses with this message, and the peers are told.
          MRD_LOG_WARN(kNet, "link progress thread: {}", st.message());
          failOperation(st);
          failed[i] = true;
          continue;
        }
        progressLinks_[i]->addPollFds(&fds);
        const int64_t t = progressLinks_[i]->timerDueUs();
        if (t >= 0 && (timerUs < 0 || t < timerUs)) timerUs = t;
      }
    }
    // Readable sockets wake it at once; timers (probes, stall checks,
    // relay timeouts, frames to write) no sooner than every millisecond:
    // between operations that is precise enough, and the cores belong to
    // the user. (Not writability: a socket a link wants to write on may
    // stay writable while the link holds back, and poll would not wait.)
    for (pollfd& f : fds) f.events = static_cast<short>(f.events & ~POLLOUT);
    fds.push_back(pollfd{progWakeFd_, POLLIN, 0});
    const int64_t waitUs = std::clamp<int64_t>(timerUs < 0 ? 100000 : timerUs, 1000, 100000);
    timespec ts{0, static_cast<long>(waitUs) * 1000};
    ppoll(fds.data(), fds.size(), &ts, nullptr);
  }
}

void Communicator::stopProgress() {
  if (!progressThread_.joinable()) return;
  {
    std::lock_guard<std::mutex> g(progMu_);
    progStop_ = true;
  }
  progCv_.notify_all();
  const uint64_t one = 1;
  if (write(progWakeFd_, &one, sizeof one) < 0) {
    // (Full counter: it is awake anyway.)
  }
  progressThread_.join();
  close(progWakeFd_);
  progWakeFd_ = -1;
}

}  // namespace mrd
