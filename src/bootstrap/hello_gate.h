// Connections to a listening socket that must each first send a fixed-size
// hello (the bootstrap ring, the TCP transport's data connections), read
// side by side: a stranger that connects and says nothing, or dribbles,
// holds one slot for at most kHelloWithin and never delays the connections
// behind it (they were read one at a time, 5 s each). At most kMaxPending
// wait at once; more drop the one waiting longest. Every refusal is logged
// with the stranger's address and the reason.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bootstrap/socket.h"
#include "log/log.h"

namespace mrd::net {

class HelloGate {
 public:
  // "" keeps the connection; anything else says why it is refused.
  using Judge = std::function<std::string(const void* hello)>;
  static constexpr size_t kMaxPending = 256;
  static constexpr std::chrono::milliseconds kHelloWithin{5000};

  // `listenFds` stay the caller's; `who` names the listener in logs
  // ("rank 3: tcp"); refusals are logged under `subsys`.
  HelloGate(std::vector<int> listenFds, size_t helloBytes, std::string who, log::Subsys subsys, Judge judge);
  ~HelloGate();  // closes the connections still waiting
  HelloGate(const HelloGate&) = delete;
  HelloGate& operator=(const HelloGate&) = delete;

  // The next connection whose hello the judge keeps: its socket (non-
  // blocking, now the caller's) and the hello's bytes in `hello`; an error
  // at the deadline or on abort.
  Status next(const Deadline& d, int* fd, void* hello);
  uint64_t refused() const { return refused_; }

 private:
  struct Pending {
    int fd = -1;
    Clock::time_point deadline;
    std::string from;
    std::vector<char> buf;
    size_t got = 0;
  };
  void acceptAll();
  // Reads what `p` sent; true when its hello is whole.
  bool readSome(Pending& p);
  void refuse(Pending& p, const std::string& why);
  void dropClosed();

  std::vector<int> listenFds_;
  size_t helloBytes_;
  std::string who_;
  log::Subsys subsys_;
  Judge judge_;
  std::vector<Pending> pending_;
  uint64_t refused_ = 0;
};

}  // namespace mrd::net
