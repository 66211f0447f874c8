// Strangers at a live job's listening sockets (issue 6): while 4 ranks (TCP
// between them) set up and run allreduces, another thread connects to every
// socket listening on loopback as soon as it appears (the bootstrap root,
// each rank's bootstrap ring listener, the TCP transport's listeners) and
// sends nothing, garbage, a truncated hello, or a flood of 0xff bytes
// (huge lengths wherever a length is read). The job must set up promptly
// and compute the right results, and the refusals are logged.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "meridian/meridian.h"
#include "support/thread_ranks.h"

namespace mrdtest {
namespace {

// Ports in state LISTEN on 127.0.0.1 (from /proc/net/tcp).
std::set<int> listeningPorts() {
  std::set<int> ports;
  std::ifstream f("/proc/net/tcp");
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string slot, local, remote, state;
    in >> slot >> local >> remote >> state;
    if (state != "0A" || local.size() < 13) continue;
    if (local.substr(0, 8) != "0100007F") continue;  // 127.0.0.1, little-endian hex
    ports.insert(std::stoi(local.substr(9), nullptr, 16));
  }
  return ports;
}

class Attacker {
 public:
  explicit Attacker(std::set<int> ignore) : seen_(std::move(ignore)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Attacker() { stop(); }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    for (int fd : open_) close(fd);
    open_.clear();
  }
  int attacked() const { return attacked_.load(); }

 private:
  void run() {
    while (!stop_.load()) {
      for (int port : listeningPorts()) {
        if (!seen_.insert(port).second) continue;
        // Several strangers per listener, one of each kind.
        for (int kind = 0; kind < 4; ++kind) attack(port, kind);
        attacked_.fetch_add(1);
      }
      usleep(500);
    }
  }
  void attack(int port, int kind) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      return;
    }
    if (kind == 1) {
      const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
      (void)send(fd, junk, sizeof junk, MSG_NOSIGNAL | MSG_DONTWAIT);
    } else if (kind == 2) {
      const char partial[10] = {0x53, 0x44, 0x52, 0x4d};  // a magic-looking start, then nothing
      (void)send(fd, partial, sizeof partial, MSG_NOSIGNAL | MSG_DONTWAIT);
    } else if (kind == 3) {
      std::vector<char> ff(64 << 10, '\xff');
      (void)send(fd, ff.data(), ff.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    open_.push_back(fd);  // kind 0 says nothing at all
  }

  std::set<int> seen_;
  std::vector<int> open_;
  std::atomic<bool> stop_{false};
  std::atomic<int> attacked_{0};
  std::thread thread_;
};

TEST(ListenerGarbage, AJobUnderStrangersSetsUpPromptlyAndComputesRightResults) {
  ScopedEnv tcp("MRD_SHM_DISABLE", "1");
  const std::string logPath = "/tmp/mrd_listener_garbage_" + std::to_string(getpid()) + ".log";
  Attacker attacker(listeningPorts());  // not the listeners that were there before
  constexpr int kRanks = 4;
  mrdUniqueId id;
  ASSERT_EQ(mrdGetUniqueId(&id), mrdSuccess);
  std::vector<mrdComm_t> comms(kRanks, nullptr);
  std::vector<std::string> errors(kRanks);
  const auto t0 = std::chrono::steady_clock::now();
  {
    StderrToFile redirect(logPath);
    std::vector<std::thread> ranks;
    for (int r = 0; r < kRanks; ++r) {
      ranks.emplace_back([&, r] {
        // The last rank comes late: the others wait at the root meanwhile.
        if (r == kRanks - 1) usleep(300000);
        mrdConfig_t cfg = testConfig(30000);
        if (mrdCommInitRankConfig(&comms[r], kRanks, id, r, &cfg) != mrdSuccess) {
          errors[r] = std::string("init: ") + mrdGetLastError(comms[r]);
          return;
        }
        for (size_t count : {1ul, 1000ul, 300000ul}) {
          std::vector<int32_t> v(count, r + 1);
          if (mrdAllReduce(v.data(), v.data(), count, mrdInt32, mrdSum, comms[r], nullptr) != mrdSuccess) {
            errors[r] = std::string("allreduce: ") + mrdGetLastError(comms[r]);
            return;
          }
          for (int32_t x : v) {
            if (x != kRanks * (kRanks + 1) / 2) {
              errors[r] = "wrong element " + std::to_string(x);
              return;
            }
          }
        }
      });
    }
    for (auto& t : ranks) t.join();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  attacker.stop();
  for (mrdComm_t c : comms) {
    if (c != nullptr) mrdCommDestroy(c);
  }
  std::ifstream f(logPath);
  std::stringstream logs;
  logs << f.rdbuf();
  std::remove(logPath.c_str());
  for (int r = 0; r < kRanks; ++r) EXPECT_TRUE(errors[r].empty()) << "rank " << r << ": " << errors[r] << "\n" << logs.str();
  // A stranger may not hold the job up for its hello deadline (5 s).
  EXPECT_LT(s, 4.0) << logs.str();
  EXPECT_GE(attacker.attacked(), 1) << "no listener was attacked: the test proves nothing";
  size_t refusals = 0;
  std::string line;
  for (std::istringstream lines(logs.str()); std::getline(lines, line);) {
    if (line.find("refused") == std::string::npos) continue;
    ++refusals;
    std::printf("%s\n", line.c_str());
  }
  std::printf("listeners attacked: %d, refusals logged: %zu, job took %.2f s\n", attacker.attacked(), refusals, s);
  EXPECT_GE(refusals, 1u) << logs.str();
}

}  // namespace
}  // namespace mrdtest
