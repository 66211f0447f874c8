#include "core/hang_report.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "config/params.h"
#include "log/log.h"

namespace mrd::hang {
namespace {

std::atomic<uint64_t> gRequests{0};
// The reporter thread sleeps on this pipe; the handler writes a byte.
int gPipe[2] = {-1, -1};

struct Registry {
  std::mutex mu;
  struct Entry {
    const void* key;
    int rank;  // for the log line's prefix
    IdleReport report;
  };
  std::vector<Entry> entries;
};

// Never destroyed: the reporter thread may outlive static destructors.
// (A forked child starts a registry of its own: afterForkInChild.)
std::atomic<Registry*> gRegistry{nullptr};

Registry& registry() {
  Registry* r = gRegistry.load();
  if (r != nullptr) return *r;
  auto* fresh = new Registry;
  if (gRegistry.compare_exchange_strong(r, fresh)) return *fresh;
  delete fresh;
  return *r;
}

// installSignalOnce: 0 not tried, 1 being installed, 2 installed, 3 not.
std::atomic<int> gInstallState{0};

void wake() {
  if (gPipe[1] < 0) return;
  const char b = 1;
  // Non-blocking: a full pipe already holds a wake-up.
  ssize_t n = write(gPipe[1], &b, 1);
  (void)n;
}

void onSignal(int) {
  const int saved = errno;
  gRequests.fetch_add(1, std::memory_order_relaxed);
  wake();
  errno = saved;
}

void reporterLoop() {
  char buf[64];
  while (true) {
    ssize_t n = read(gPipe[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    Registry& r = registry();
    std::lock_guard<std::mutex> g(r.mu);
    for (auto& e : r.entries) {
      std::string line = e.report();
      log::ScopedRank rank(e.rank);
      if (!line.empty()) emit(line);
    }
  }
}

// mrdrun's pipe for report lines, and this process's job rank: read once.
struct Collector {
  int fd = -1;
  std::string prefix;
};

const Collector& collector() {
  static const Collector c = [] {
    Collector out;
    const char* fdText = std::getenv("MRD_HANG_REPORT_FD");
    const char* rank = std::getenv("MRD_RANK");
    if (fdText == nullptr || rank == nullptr) return out;
    char* end = nullptr;
    const long fd = std::strtol(fdText, &end, 10);
    struct stat st {};
    // Only a pipe (a stale number from a parent's environment may name
    // anything by now).
    if (*end != '\0' || fd < 3 || fd > 1 << 20 || fstat(static_cast<int>(fd), &st) != 0 || !S_ISFIFO(st.st_mode)) {
      return out;
    }
    out.fd = static_cast<int>(fd);
    // ":s": this rank reports on SIGUSR1 (mrdrun may ask the others).
    out.prefix = std::string(rank) + (installSignalOnce() ? ":s " : " ");
    return out;
  }();
  return c;
}

// A child forked by a process that reports: the handler would write to
// the parent's pipe (the parent's reporter thread would report, the
// child's signal vanish), and the registry names the parent's
// communicators, its lock perhaps held by a thread that is not in the
// child. The child gets SIGUSR1's default back, and its own registry and
// handler with its first communicator. (Only what is safe after fork().)
void afterForkInChild() {
  if (gInstallState.load() == 2) {
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, nullptr);
    close(gPipe[0]);
    close(gPipe[1]);
    gPipe[0] = gPipe[1] = -1;
  }
  gInstallState.store(0);
  gRegistry.store(nullptr);  // the parent's is left as it is (its lock may be held)
}

bool install() {
  if (config::processParams().hangReportSignal == 0) return false;
  struct sigaction old {};
  if (sigaction(SIGUSR1, nullptr, &old) != 0) return false;
  const bool isDefault = (old.sa_flags & SA_SIGINFO) == 0 && old.sa_handler == SIG_DFL;
  if (!isDefault) {
    MRD_LOG_INFO(kInit, "SIGUSR1 has a handler already: no hang reports on SIGUSR1");
    return false;
  }
  if (pipe2(gPipe, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  // The reporter blocks on its end.
  fcntl(gPipe[0], F_SETFL, fcntl(gPipe[0], F_GETFL) & ~O_NONBLOCK);
  std::thread(reporterLoop).detach();
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  static const bool atfork = pthread_atfork(nullptr, nullptr, afterForkInChild) == 0;
  (void)atfork;
  return sigaction(SIGUSR1, &sa, nullptr) == 0;
}

}  // namespace

uint64_t requestCount() { return gRequests.load(std::memory_order_relaxed); }

bool installSignalOnce() {
  int state = gInstallState.load();
  while (state < 2) {
    if (state == 0 && gInstallState.compare_exchange_strong(state, 1)) {
      const bool ok = install();
      gInstallState.store(ok ? 2 : 3);
      return ok;
    }
    std::this_thread::yield();  // another thread installs it: a moment
    state = gInstallState.load();
  }
  return state == 2;
}

void requestReport() { onSignal(SIGUSR1); }

void emit(const std::string& line) {
  MRD_LOG_WARN(kColl, "{}", line);
  const Collector& c = collector();
  if (c.fd < 0) return;
  // One write, at most PIPE_BUF bytes, so lines of different ranks do not
  // mix; the pipe is non-blocking (mrdrun made it so): a full one drops it.
  std::string out = c.prefix + line;
  if (out.size() > 4000) out.resize(4000);
  out += '\n';
  ssize_t n = write(c.fd, out.data(), out.size());
  (void)n;
}

void registerIdle(const void* key, int rank, IdleReport report) {
  Registry& r = registry();
  std::lock_guard<std::mutex> g(r.mu);
  r.entries.push_back(Registry::Entry{key, rank, std::move(report)});
}

void unregisterIdle(const void* key) {
  Registry& r = registry();
  std::lock_guard<std::mutex> g(r.mu);
  for (size_t i = 0; i < r.entries.size(); ++i) {
    if (r.entries[i].key == key) {
      r.entries.erase(r.entries.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
  }
}

}  // namespace mrd::hang
