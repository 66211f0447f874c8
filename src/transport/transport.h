// The transport interface: how bytes move between two ranks. Modelled on
// NCCL's net plug-in table, reduced to what the executor needs:
//
//   Transport  - one per kind (shm, tcp, ...); says which peers it can reach,
//                and sets up Connections collectively during init.
//   Connection - one peer, one channel, both directions. Messages are tagged;
//                per direction they complete in the order they were posted.
//
// Everything here is non-blocking except Transport::connect (collective, with
// a deadline) and Transport::sleep (bounded). All calls on a communicator's
// connections come from one thread at a time (the progress engine).
#pragma once

#include <poll.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace mrd::bootstrap {
class Bootstrap;
}
namespace mrd::config {
struct Params;
}

namespace mrd::transport {

// How a connection words a peer's failure (Connection::sendFailure,
// Transport::fail), followed by the peer's reason: the communicator passes
// on only what follows the last of these.
constexpr const char* kPeerFailed = "the peer failed: ";

// One message in flight. The caller owns it and its buffer until done is
// true; the transport only reads/writes `progressed` and `done`.
struct Request {
  uint64_t tag = 0;
  void* buf = nullptr;  // send: source (not written), recv: destination
  size_t bytes = 0;
  size_t progressed = 0;
  bool done = false;
};

// Result of a probe: a timestamped round trip on one connection.
struct ProbeSample {
  uint64_t sentNs = 0;   // CLOCK_MONOTONIC when the ping left
  uint64_t rttNs = 0;    // 0 while the pong has not come back
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual int peer() const = 0;
  // Queue a message. The tags of a send and of the matching receive must be
  // equal and so must their byte counts; a mismatch fails with an error
  // naming the peer. Never blocks.
  virtual Status postSend(Request* r) = 0;
  virtual Status postRecv(Request* r) = 0;
  // Moves whatever bytes can move now; sets *moved when anything did.
  virtual Status progress(bool* moved) = 0;
  // Sends a timestamped ping; the answer arrives while progress() runs on
  // both sides and is reported by lastProbe().
  virtual Status probe() = 0;
  virtual ProbeSample lastProbe() const = 0;
  // Appends the descriptors to poll while this connection has work pending
  // (none for transports that wake sleepers through a doorbell instead).
  virtual void addPollFds(std::vector<pollfd>* fds) const { (void)fds; }
  // Microseconds after which progress() must run again even if no
  // descriptor is ready (probes, stall checks); -1: no timer.
  virtual int64_t timerDueUs() const { return -1; }
  // After an operation: finishes writing what must not wait for the next
  // one (a half-written frame, acknowledgements the peer waits for); sets
  // *idle when nothing of the kind is left. Nothing new is started.
  virtual Status flush(bool* idle) {
    *idle = true;
    return Status::ok();
  }
  // One line on what is in flight (paths, messages), for timeout errors.
  virtual std::string describeState() const { return ""; }
  // Closing (the destructor) may wait for what it still owes the peer, but
  // not past this CLOCK_MONOTONIC time (ns): a communicator's connections
  // share one budget instead of each taking its own.
  virtual void closeBy(uint64_t deadlineNs) { (void)deadlineNs; }
  // This rank gave up on the communicator for `why` (its transports are
  // about to fail()): a connection that can tells its peer so, without
  // blocking; it carries nothing afterwards.
  virtual void sendFailure(const std::string& why) { (void)why; }
  // True when news on this connection rings its transport's doorbell.
  virtual bool ringsDoorbell() const { return false; }
};

using ConnectionTable = std::vector<std::vector<std::unique_ptr<Connection>>>;  // [peer][channel]

// Shared memory for small collectives among the ranks of one host
// (core/local_board.h): one area per rank, written only by its owner and
// read by every other rank.
struct BoardView {
  std::vector<char*> areas;                    // [rank]
  std::vector<const std::atomic<uint32_t>*> sleeping;  // [rank]: nonzero while that rank sleeps (or is about to)
  std::function<void(int rank)> wake;          // rings that rank's doorbell if it sleeps
  std::function<std::string(int rank)> gone;   // why that rank can no longer take part; "" while it can
};

struct SetupContext {
  bootstrap::Bootstrap* bootstrap = nullptr;
  const config::Params* params = nullptr;
  std::string commTag;          // unique per communicator: names shm segments
  int nchannels = 1;
  std::vector<bool> useFor;     // [peer]: this transport was chosen for that peer
  int timeoutMs = 0;
  const std::atomic<bool>* abort = nullptr;
  // Bytes of each rank's board area (0: no board wanted).
  size_t boardAreaBytes = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual const char* name() const = 0;
  // False when it cannot work on this machine at all (disabled, no device).
  virtual bool viable() const = 0;
  // Whether a connection from this rank to `peer` is possible.
  virtual bool canReach(const bootstrap::Bootstrap& b, int peer) const = 0;
  // Collective over the communicator: every rank calls it, even with no
  // peer to serve. Fills (*conns)[peer][channel] for the peers in useFor.
  virtual Status connect(const SetupContext& ctx, ConnectionTable* conns) = 0;
  // Sleeping without losing a wake-up: prepareSleep() announces that this
  // rank is about to sleep, the engine then polls every connection once more,
  // and only if nothing moved calls sleep(), which returns after timeoutUs or
  // as soon as a peer on this transport rang the doorbell since prepareSleep.
  // Transports without a doorbell do nothing here (the engine polls fds).
  virtual bool hasDoorbell() const { return false; }
  virtual void prepareSleep() {}
  virtual void sleep(int timeoutUs) { (void)timeoutUs; }
  virtual void endSleep() {}
  // The same doorbell as a descriptor, for a rank that must also wait on
  // sockets (a schedule over shm and tcp): prepareSleepOnFd() instead of
  // prepareSleep(), then poll() wakeFd() with the sockets; endSleep() after.
  // -1: this transport cannot ring a descriptor.
  virtual int wakeFd() const { return -1; }
  virtual void prepareSleepOnFd() {}
  // Memory registration (RDMA needs it; shm and tcp do not).
  virtual Status registerMemory(void* buf, size_t bytes, void** handle) {
    (void)buf; (void)bytes;
    *handle = nullptr;
    return Status::ok();
  }
  virtual Status deregisterMemory(void* handle) {
    (void)handle;
    return Status::ok();
  }
  // The board areas, when this transport reaches every other rank of the
  // communicator through memory they share and SetupContext asked for them.
  virtual bool boardView(BoardView* out) {
    (void)out;
    return false;
  }
  // Makes peers fail fast (they see the connection close) and wakes sleepers.
  virtual void abort() = 0;
  // abort(), after an operation failed with `why`: a transport that can
  // passes the reason on to its peers, which report it with their own error.
  virtual void fail(const std::string& why) {
    (void)why;
    abort();
  }
  // The connections it made are destroyed (they closed their handles):
  // a later abort() must not touch those handles (numbers a new socket
  // may have by now).
  virtual void forgetConnections() {}
};

// Built-in transports, in the default order of preference.
std::vector<std::unique_ptr<Transport>> makeBuiltinTransports(const config::Params& params);

}  // namespace mrd::transport
