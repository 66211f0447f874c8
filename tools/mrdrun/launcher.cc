#include "launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "hang_summary.h"

extern char** environ;

namespace mrdrun {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
// Time between SIGTERM and SIGKILL when the job is torn down: long enough for
// a rank to flush its output, short enough that a failed job ends promptly.
constexpr auto kKillGrace = std::chrono::seconds(2);
// A "line" longer than this is written out without waiting for its newline,
// so a rank that prints binary junk cannot make mrdrun's memory grow.
constexpr size_t kMaxLineBytes = 64 << 10;
constexpr size_t kReadChunk = 64 << 10;
// After a rank exits, its pipe holds at most what it wrote before exiting
// (a pipe's capacity); a grandchild still writing must not keep us there.
constexpr int kMaxDrainReads = 64;

// What mrdrun started with, restored in each child before exec so the ranks
// run with the mask and SIGPIPE disposition they would have had without us.
sigset_t gOriginalMask;
struct sigaction gOriginalSigpipe;
bool gSignalsBlocked = false;

sigset_t jobSignalSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (int sig : kForwardedSignals) sigaddset(&set, sig);
  return set;
}

std::string signalName(int sig) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* abbrev = sigabbrev_np(sig)) return std::string("SIG") + abbrev;
#endif
  return "signal " + std::to_string(sig);
}

// Writes everything, retrying on EINTR and waiting out EAGAIN (a stdout that
// the caller made non-blocking). False when the reader went away.
bool writeAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n > 0) {
      data += n;
      size -= static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, -1);
    } else {
      return false;
    }
  }
  return true;
}

void say(const std::string& message) {
  std::string line = "mrdrun: " + message + "\n";
  writeAll(STDERR_FILENO, line.data(), line.size());
}

// If mrdrun was started with stdin, stdout or stderr closed, the pipes and
// files it opens would land on those numbers and a child's dup2 onto 1 or 2
// would clobber them; holding /dev/null there keeps the numbering sane.
void ensureStdFds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      int opened = open("/dev/null", O_RDWR);
      if (opened >= 0 && opened != fd) close(opened);
    }
  }
}

// The environment of a rank, as "NAME=value" strings.
class EnvBlock {
 public:
  EnvBlock() {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) vars_.emplace_back(*e);
  }
  bool has(const std::string& name) const { return find(name) != vars_.size(); }
  void set(const std::string& name, const std::string& value) {
    size_t i = find(name);
    if (i == vars_.size()) {
      vars_.push_back(name + "=" + value);
    } else {
      vars_[i] = name + "=" + value;
    }
  }
  // Null-terminated, for execve; valid while this block is unchanged.
  std::vector<char*> pointers() {
    std::vector<char*> p;
    p.reserve(vars_.size() + 1);
    for (std::string& v : vars_) p.push_back(&v[0]);
    p.push_back(nullptr);
    return p;
  }

 private:
  size_t find(const std::string& name) const {
    for (size_t i = 0; i < vars_.size(); ++i) {
      const std::string& v = vars_[i];
      if (v.size() > name.size() && v[name.size()] == '=' && v.compare(0, name.size(), name) == 0) {
        return i;
      }
    }
    return vars_.size();
  }
  std::vector<std::string> vars_;
};

// Puts fd on target for the exec'd program. Runs in the forked child, so it
// uses async-signal-safe calls only. dup2 onto itself would keep the
// close-on-exec flag the pipe was made with, hence the explicit clear.
void moveFd(int fd, int target) {
  if (fd < 0) return;
  if (fd == target) {
    fcntl(fd, F_SETFD, 0);
  } else {
    dup2(fd, target);
  }
}

void appendText(char* buf, size_t cap, size_t* len, const char* text) {
  while (*text != '\0' && *len + 1 < cap) buf[(*len)++] = *text++;
}

struct ChildSetup {
  char** argv;
  char** envp;
  pid_t parent;
  int stdinFd;  // -1: inherit mrdrun's stdin
  int stdoutFd;
  int stderrFd;
  int reportFd;  // -1, or the hang-report pipe's write end, kept across exec
};

// The forked child. mrdrun has other threads (the bootstrap root), so
// between fork and exec only async-signal-safe calls are allowed: no malloc,
// no stdio, no locale-dependent strerror.
[[noreturn]] void execChild(const ChildSetup& s) {
  sigaction(SIGPIPE, &gOriginalSigpipe, nullptr);
  sigprocmask(SIG_SETMASK, &gOriginalMask, nullptr);
  // If mrdrun dies without cleaning up (SIGKILL, crash), the ranks would hang
  // in the bootstrap whose root lived in mrdrun; take them down with it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != s.parent) _exit(127);
  moveFd(s.stdinFd, STDIN_FILENO);
  moveFd(s.stdoutFd, STDOUT_FILENO);
  moveFd(s.stderrFd, STDERR_FILENO);
  if (s.reportFd >= 0) fcntl(s.reportFd, F_SETFD, 0);
  // execvp searches the PATH of environ, so the rank's own environment (which
  // -x PATH=... may have changed) decides where the program is found.
  environ = s.envp;
  execvp(s.argv[0], s.argv);
  int err = errno;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char* reason = strerrordesc_np(err);
#else
  const char* reason = strerror(err);
#endif
  char msg[1024];
  size_t len = 0;
  appendText(msg, sizeof(msg), &len, "mrdrun: cannot run '");
  appendText(msg, sizeof(msg), &len, s.argv[0]);
  appendText(msg, sizeof(msg), &len, "': ");
  appendText(msg, sizeof(msg), &len, reason != nullptr ? reason : "unknown error");
  msg[len++] = '\n';
  ssize_t ignored = write(STDERR_FILENO, msg, len);
  (void)ignored;
  _exit(127);
}

// One of a rank's output streams in --tag-output mode.
struct TaggedStream {
  int fd = -1;          // read end of the pipe; -1 when not piped or closed
  int target = -1;      // mrdrun's stdout or stderr
  std::string pending;  // an unfinished line
};

struct Child {
  int rank = 0;
  pid_t pid = -1;
  bool running = false;
  TaggedStream out;
  TaggedStream err;
};

class Job {
 public:
  Job(const Options& opts, const std::string& uniqueId) : opts_(opts), uniqueId_(uniqueId) {}

  ~Job() {
    if (sigFd_ >= 0) close(sigFd_);
    if (devNull_ >= 0) close(devNull_);
    for (int fd : reportPipe_) {
      if (fd >= 0) close(fd);
    }
    for (Child& c : children_) {
      closeStream(&c.out);
      closeStream(&c.err);
    }
  }

  int run() {
    ensureStdFds();
    sigset_t set = jobSignalSet();
    sigFd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigFd_ < 0) {
      say(std::string("signalfd: ") + strerror(errno));
      return 1;
    }
    devNull_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
    // The ranks' hang reports (Meridian's, on SIGUSR1 or a long wait) come
    // back through this pipe; non-blocking at both ends, so a rank never
    // waits on mrdrun to write one.
    if (pipe2(reportPipe_, O_CLOEXEC | O_NONBLOCK) != 0) reportPipe_[0] = reportPipe_[1] = -1;
    prepareEnv();
    if (opts_.timeoutSec > 0) {
      jobDeadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(opts_.timeoutSec));
      haveJobDeadline_ = true;
    }
    children_.reserve(static_cast<size_t>(opts_.np));
    for (int rank = 0; rank < opts_.np; ++rank) {
      if (!spawn(rank)) {
        terminate(1);
        break;
      }
    }
    if (reportPipe_[1] >= 0) close(reportPipe_[1]);
    reportPipe_[1] = -1;
    supervise();
    readReports();
    printHangSummary();
    return exitCode_;
  }

 private:
  void prepareEnv() {
    for (const auto& [name, value] : opts_.exports) {
      if (value) {
        baseEnv_.set(name, *value);
      } else if (!baseEnv_.has(name)) {
        say("warning: -x " + name + ": not set in mrdrun's environment, nothing to forward");
      }
    }
    // After the -x ones, so a stray -x MRD_RANK=... cannot break the job.
    std::string np = std::to_string(opts_.np);
    baseEnv_.set("MRD_WORLD_SIZE", np);
    baseEnv_.set("MRD_LOCAL_SIZE", np);
    baseEnv_.set("MRD_UNIQUE_ID", uniqueId_);
    if (reportPipe_[1] >= 0) baseEnv_.set("MRD_HANG_REPORT_FD", std::to_string(reportPipe_[1]));
  }

  bool makePipe(int fds[2]) {
    if (pipe2(fds, O_CLOEXEC) == 0) return true;
    say(std::string("pipe: ") + strerror(errno));
    return false;
  }

  bool spawn(int rank) {
    EnvBlock env = baseEnv_;
    env.set("MRD_RANK", std::to_string(rank));
    env.set("MRD_LOCAL_RANK", std::to_string(rank));
    std::vector<char*> envp = env.pointers();
    std::vector<std::string> args = opts_.command;
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(&a[0]);
    argv.push_back(nullptr);

    int outPipe[2] = {-1, -1};
    int errPipe[2] = {-1, -1};
    if (opts_.tagOutput) {
      if (!makePipe(outPipe)) return false;
      if (!makePipe(errPipe)) {
        close(outPipe[0]);
        close(outPipe[1]);
        return false;
      }
    }
    // Open MPI's convention: only rank 0 reads the terminal, so N ranks do
    // not race for the same keystrokes.
    ChildSetup setup;
    setup.argv = argv.data();
    setup.envp = envp.data();
    setup.parent = getpid();
    setup.stdinFd = rank > 0 ? devNull_ : -1;
    setup.stdoutFd = outPipe[1];
    setup.stderrFd = errPipe[1];
    setup.reportFd = reportPipe_[1];
    pid_t pid = fork();
    if (pid == 0) execChild(setup);
    int forkErr = errno;
    for (int fd : {outPipe[1], errPipe[1]}) {
      if (fd >= 0) close(fd);
    }
    if (pid < 0) {
      for (int fd : {outPipe[0], errPipe[0]}) {
        if (fd >= 0) close(fd);
      }
      say("cannot start rank " + std::to_string(rank) + ": fork: " + strerror(forkErr));
      return false;
    }
    Child c;
    c.rank = rank;
    c.pid = pid;
    c.running = true;
    c.out.fd = outPipe[0];
    c.out.target = STDOUT_FILENO;
    c.err.fd = errPipe[0];
    c.err.target = STDERR_FILENO;
    for (int fd : {c.out.fd, c.err.fd}) {
      if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    children_.push_back(std::move(c));
    ++running_;
    return true;
  }

  void supervise() {
    std::vector<pollfd> fds;
    std::vector<std::pair<Child*, TaggedStream*>> streams;
    while (running_ > 0) {
      fds.clear();
      streams.clear();
      fds.push_back(pollfd{sigFd_, POLLIN, 0});
      fds.push_back(pollfd{reportPipe_[0], POLLIN, 0});  // ignored while -1
      for (Child& c : children_) {
        for (TaggedStream* s : {&c.out, &c.err}) {
          if (s->fd < 0) continue;
          fds.push_back(pollfd{s->fd, POLLIN, 0});
          streams.emplace_back(&c, s);
        }
      }
      int rc = poll(fds.data(), fds.size(), pollTimeoutMs());
      if (rc < 0 && errno != EINTR) {
        // Cannot happen short of ENOMEM; do not spin on it, end the job hard.
        say(std::string("poll: ") + strerror(errno) + "; killing all ranks");
        for (Child& c : children_) {
          if (c.running) kill(c.pid, SIGKILL);
        }
        exitCode_ = exitCode_ != 0 ? exitCode_ : 1;
        waitAllBlocking();
        return;
      }
      if (rc > 0) {
        for (size_t i = 2; i < fds.size(); ++i) {
          if (fds[i].revents != 0) readStream(streams[i - 2].first->rank, streams[i - 2].second, 1);
        }
        if (fds[1].revents != 0) readReports();
        // After the pipes, so the last output of a rank that just exited is
        // printed before mrdrun's message about it.
        if (fds[0].revents != 0) handleSignals();
      }
      checkDeadlines();
    }
  }

  void waitAllBlocking() {
    int status = 0;
    while (running_ > 0) {
      pid_t pid = waitpid(-1, &status, 0);
      if (pid < 0 && errno == EINTR) continue;
      if (pid < 0) break;
      for (Child& c : children_) {
        if (c.running && c.pid == pid) {
          c.running = false;
          --running_;
        }
      }
    }
  }

  void handleSignals() {
    signalfd_siginfo si;
    for (;;) {
      ssize_t n = read(sigFd_, &si, sizeof(si));
      if (n != static_cast<ssize_t>(sizeof(si))) break;
      if (si.ssi_signo == SIGCHLD) continue;  // reaped below, however many
      // Ctrl-C, Ctrl-\ and terminal hangup come from the kernel to the whole
      // foreground process group, ranks included; forwarding would deliver
      // them twice (and a second SIGINT often means "exit now").
      if (si.ssi_code == SI_KERNEL) continue;
      for (Child& c : children_) {
        if (c.running) kill(c.pid, static_cast<int>(si.ssi_signo));
      }
      if (si.ssi_signo == SIGUSR1) noteReportsAsked();
    }
    reap();
  }

  void reap() {
    for (;;) {
      int status = 0;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid < 0 && errno == EINTR) continue;
      if (pid <= 0) return;
      for (Child& c : children_) {
        if (c.running && c.pid == pid) onExit(&c, status);
      }
    }
  }

  void onExit(Child* c, int status) {
    c->running = false;
    --running_;
    readStream(c->rank, &c->out, kMaxDrainReads);
    readStream(c->rank, &c->err, kMaxDrainReads);
    flushPending(c->rank, &c->out);
    flushPending(c->rank, &c->err);
    closeStream(&c->out);
    closeStream(&c->err);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    // Once the job is being torn down, the other ranks dying of our SIGTERM
    // is expected and not news.
    if (terminating_) return;
    std::string who = "rank " + std::to_string(c->rank) + " (pid " + std::to_string(c->pid) + ")";
    if (WIFSIGNALED(status)) {
      int sig = WTERMSIG(status);
      say(who + " killed by signal " + signalName(sig) +
          (WCOREDUMP(status) ? " (core dumped)" : ""));
      terminate(128 + sig);
    } else {
      int code = WEXITSTATUS(status);
      say(who + " exited with status " + std::to_string(code));
      terminate(code);
    }
  }

  // Reads up to maxReads chunks (fewer when the pipe is empty) and writes
  // the complete lines out tagged.
  void readStream(int rank, TaggedStream* s, int maxReads) {
    char buf[kReadChunk];
    for (int i = 0; i < maxReads && s->fd >= 0; ++i) {
      ssize_t n = read(s->fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) {
        --i;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) {  // EOF: every writer closed it; or a read error
        flushPending(rank, s);
        closeStream(s);
        return;
      }
      s->pending.append(buf, static_cast<size_t>(n));
      emitLines(rank, s);
    }
  }

  void emitLines(int rank, TaggedStream* s) {
    std::string tag = "[" + std::to_string(rank) + "] ";
    std::string text;
    size_t start = 0;
    for (;;) {
      size_t nl = s->pending.find('\n', start);
      if (nl == std::string::npos) break;
      text += tag;
      text.append(s->pending, start, nl + 1 - start);
      start = nl + 1;
    }
    s->pending.erase(0, start);
    if (s->pending.size() >= kMaxLineBytes) {
      text += tag + s->pending + "\n";
      s->pending.clear();
    }
    // One write per batch of whole lines: mrdrun is the only writer of its
    // stdout here, so lines of different ranks never mix.
    if (!text.empty()) writeTagged(s->target, text);
  }

  void flushPending(int rank, TaggedStream* s) {
    if (s->pending.empty()) return;
    writeTagged(s->target, "[" + std::to_string(rank) + "] " + s->pending + "\n");
    s->pending.clear();
  }

  void writeTagged(int target, const std::string& text) {
    bool& broken = target == STDOUT_FILENO ? stdoutBroken_ : stderrBroken_;
    if (broken || writeAll(target, text.data(), text.size())) return;
    // Nobody reads mrdrun's stdout (or stderr) any more (mrdrun ... | head).
    // Closing the ranks' pipes of that stream hands them the EPIPE/SIGPIPE
    // they would get when writing to the reader directly, without
    // --tag-output, instead of leaving them writing into a void forever.
    broken = true;
    for (Child& c : children_) {
      for (TaggedStream* s : {&c.out, &c.err}) {
        if (s->target == target) {
          s->pending.clear();
          closeStream(s);
        }
      }
    }
  }

  static void closeStream(TaggedStream* s) {
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
  }

  void terminate(int exitCode) {
    if (terminating_) return;
    terminating_ = true;
    exitCode_ = exitCode;
    for (Child& c : children_) {
      if (c.running) kill(c.pid, SIGTERM);
    }
    killDeadline_ = Clock::now() + kKillGrace;
    haveKillDeadline_ = true;
  }

  // Gathers report lines; the summary waits for the round to end (no new
  // line for kReportQuiet).
  void readReports() {
    char buf[4096];
    while (reportPipe_[0] >= 0) {
      ssize_t n = read(reportPipe_[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // EOF: no rank holds the pipe open any more.
        if (n == 0) {
          close(reportPipe_[0]);
          reportPipe_[0] = -1;
        }
        return;
      }
      reportText_.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = reportText_.find('\n')) != std::string::npos;) {
        hangSummary_.add(reportText_.substr(0, nl));
        reportText_.erase(0, nl + 1);
        summaryDue_ = Clock::now() + kReportQuiet;
        haveSummaryDue_ = true;
      }
      // A rank's own report (its operation waited MRD_HANG_REPORT_MS): the
      // others are asked for theirs, so the summary sees the whole job.
      // Only ranks that take SIGUSR1 for reports, and not again at once.
      if (!reportsAsked_ && hangSummary_.signalable() && !terminating_ &&
          Clock::now() - lastAsked_ >= kAskAgainAfter) {
        for (Child& c : children_) {
          if (c.running) kill(c.pid, SIGUSR1);
        }
        noteReportsAsked();
      }
    }
  }

  void noteReportsAsked() {
    reportsAsked_ = true;
    lastAsked_ = Clock::now();
  }

  void printHangSummary() {
    haveSummaryDue_ = false;
    reportsAsked_ = false;
    if (hangSummary_.empty()) return;
    for (const std::string& line : hangSummary_.take(opts_.np)) say(line);
  }

  void checkDeadlines() {
    Clock::time_point now = Clock::now();
    if (haveSummaryDue_ && now >= summaryDue_) printHangSummary();
    if (haveJobDeadline_ && !terminating_ && now >= jobDeadline_) {
      say("timeout after " + opts_.timeoutText + " s, killing " + std::to_string(running_) +
          (running_ == 1 ? " rank" : " ranks"));
      terminate(124);
    }
    if (haveKillDeadline_ && now >= killDeadline_) {
      haveKillDeadline_ = false;
      for (Child& c : children_) {
        if (c.running) kill(c.pid, SIGKILL);
      }
    }
  }

  // Milliseconds until the next deadline, rounded up so poll never returns
  // just before it and spins; -1 when there is none.
  int pollTimeoutMs() const {
    bool have = false;
    Clock::time_point next;
    if (haveJobDeadline_ && !terminating_) {
      next = jobDeadline_;
      have = true;
    }
    if (haveKillDeadline_ && (!have || killDeadline_ < next)) {
      next = killDeadline_;
      have = true;
    }
    if (haveSummaryDue_ && (!have || summaryDue_ < next)) {
      next = summaryDue_;
      have = true;
    }
    if (!have) return -1;
    auto left = next - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return ms > 3600 * 1000 ? 3600 * 1000 : static_cast<int>(ms);
  }

  const Options& opts_;
  std::string uniqueId_;
  EnvBlock baseEnv_;
  std::vector<Child> children_;
  int running_ = 0;
  int sigFd_ = -1;
  int devNull_ = -1;
  bool terminating_ = false;
  int exitCode_ = 0;
  bool haveJobDeadline_ = false;
  Clock::time_point jobDeadline_;
  bool haveKillDeadline_ = false;
  Clock::time_point killDeadline_;
  bool stdoutBroken_ = false;
  bool stderrBroken_ = false;
  int reportPipe_[2] = {-1, -1};
  std::string reportText_;  // an unfinished report line
  HangSummary hangSummary_;
  bool haveSummaryDue_ = false;
  Clock::time_point summaryDue_;
  static constexpr std::chrono::milliseconds kReportQuiet{700};
  bool reportsAsked_ = false;  // this round's SIGUSR1 went out
  Clock::time_point lastAsked_;
  static constexpr std::chrono::seconds kAskAgainAfter{5};
};

}  // namespace

void blockJobSignals() {
  if (gSignalsBlocked) return;
  sigset_t set = jobSignalSet();
  pthread_sigmask(SIG_BLOCK, &set, &gOriginalMask);
  // Writing tagged output to a closed pipe must be an error we handle, not
  // death of the launcher with the ranks orphaned.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, &gOriginalSigpipe);
  gSignalsBlocked = true;
}

int runJob(const Options& opts, const std::string& uniqueId) {
  blockJobSignals();
  Job job(opts, uniqueId);
  return job.run();
}

}  // namespace mrdrun
