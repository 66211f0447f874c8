// A communicator's out-of-band channel: contacts the root once to learn every
// rank's address and host, then keeps a ring of sockets between the ranks
// for allgather and barrier. Used during init, split and transport setup;
// never on the data path. Not thread-safe: one collective call at a time.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "bootstrap/wire.h"
#include "core/status.h"

namespace mrd::bootstrap {

class Bootstrap {
 public:
  // Blocks until every rank has joined or timeoutMs passes. `abort`, when
  // set to true by another thread, makes every wait return an error.
  static Status create(const mrdUniqueId& id, int rank, int nranks, int timeoutMs,
                       const std::atomic<bool>* abort, std::unique_ptr<Bootstrap>* out);
  ~Bootstrap();
  Bootstrap(const Bootstrap&) = delete;
  Bootstrap& operator=(const Bootstrap&) = delete;

  int rank() const { return rank_; }
  int nranks() const { return nranks_; }
  const RankInfo& info(int rank) const { return table_[static_cast<size_t>(rank)]; }
  const Secret& secret() const { return secret_; }
  bool sameHost(int a, int b) const;

  // data holds nranks slots of bytesPerRank; this rank's slot is filled in,
  // the others are filled by the call.
  Status allgather(void* data, size_t bytesPerRank);
  Status barrier();
  // Closes the ring so peers blocked in allgather see an error at once.
  void shutdown();

 private:
  Bootstrap() = default;
  Status joinRoot(const IdPayload& id, const RankInfo& me);
  Status connectRing();
  net::Deadline deadline() const;

  int rank_ = 0;
  int nranks_ = 1;
  int timeoutMs_ = 0;
  const std::atomic<bool>* abort_ = nullptr;
  Secret secret_{};
  int listenFd_ = -1;
  int nextFd_ = -1;
  int prevFd_ = -1;
  std::vector<RankInfo> table_;
};

// "hostname|boot-id|netns": ranks with the same value share memory.
std::string localHostId();

}  // namespace mrd::bootstrap
