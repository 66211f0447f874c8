// mrdrun end to end: runs the real launcher (MRDRUN_PATH, set by CMake) on
// small shell programs and on this test binary itself acting as a rank
// (MrdrunRank.*, selected with --gtest_filter and MRDRUN_TEST_ROLE).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/launch_env.h"
#include "meridian/meridian.h"

#ifndef MRDRUN_PATH
#error "build with -DMRDRUN_PATH=\"$<TARGET_FILE:mrdrun>\""
#endif

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Result {
  int exitCode = -1;  // 128 + signal when mrdrun itself was killed
  std::string out;
  std::string err;
  double seconds = 0;
  bool hung = false;  // the test had to kill mrdrun
};

// One mrdrun process with its stdout and stderr captured.
class Mrdrun {
 public:
  ~Mrdrun() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }

  void start(const std::vector<std::string>& args, const std::vector<std::string>& extraEnv = {},
             const char* stdinPath = "/dev/null") {
    std::vector<std::string> argStore = {MRDRUN_PATH};
    argStore.insert(argStore.end(), args.begin(), args.end());
    std::vector<std::string> envStore;
    for (char** e = environ; *e != nullptr; ++e) envStore.emplace_back(*e);
    envStore.insert(envStore.end(), extraEnv.begin(), extraEnv.end());
    std::vector<char*> argv;
    std::vector<char*> envp;
    for (std::string& a : argStore) argv.push_back(&a[0]);
    for (std::string& e : envStore) envp.push_back(&e[0]);
    argv.push_back(nullptr);
    envp.push_back(nullptr);

    int outPipe[2];
    int errPipe[2];
    ASSERT_EQ(pipe2(outPipe, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(errPipe, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, stdinPath, O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2);
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(outPipe[1]);
    close(errPipe[1]);
    fds_[0] = outPipe[0];
    fds_[1] = errPipe[0];
    for (int fd : fds_) fcntl(fd, F_SETFL, O_NONBLOCK);
    ASSERT_EQ(rc, 0) << "posix_spawn " << MRDRUN_PATH << ": " << strerror(rc);
    started_ = Clock::now();
  }

  // Reads output until stdout holds `needle` `count` times (true) or the
  // limit passes or mrdrun exits (false).
  bool waitForStdout(const std::string& needle, int count, double limitSec) {
    while (secondsSince(started_) < limitSec && !exited_) {
      if (occurrences(result_.out, needle) >= count) return true;
      pump(50);
    }
    return occurrences(result_.out, needle) >= count;
  }

  void signal(int sig) { ASSERT_EQ(kill(pid_, sig), 0); }
  // Stops reading mrdrun's stdout, as `mrdrun ... | head` does.
  void closeStdout() {
    close(fds_[0]);
    fds_[0] = -1;
  }
  pid_t pid() const { return pid_; }

  // Waits for mrdrun to exit; past limitSec it is killed and hung is set.
  Result finish(double limitSec) {
    while (!exited_) {
      if (secondsSince(started_) > limitSec) {
        result_.hung = true;
        kill(pid_, SIGKILL);
      }
      pump(20);
    }
    pump(0);  // whatever is left in the pipes
    result_.seconds = secondsSince(started_);
    return result_;
  }

 private:
  static int occurrences(const std::string& text, const std::string& needle) {
    int n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
      ++n;
    }
    return n;
  }

  // One round of reading both pipes (waiting up to ms) and checking for exit.
  // The test polls on a short timer because an orphaned grandchild may keep
  // the pipes open after mrdrun is gone.
  void pump(int ms) {
    pollfd p[2] = {{fds_[0], POLLIN, 0}, {fds_[1], POLLIN, 0}};
    poll(p, 2, ms);
    char buf[65536];
    std::string* sinks[2] = {&result_.out, &result_.err};
    for (int i = 0; i < 2; ++i) {
      for (;;) {
        ssize_t n = read(fds_[i], buf, sizeof(buf));
        if (n <= 0) break;
        sinks[i]->append(buf, static_cast<size_t>(n));
      }
    }
    if (!exited_) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        pid_ = -1;
        result_.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
  }

  pid_t pid_ = -1;
  int fds_[2] = {-1, -1};
  bool exited_ = false;
  Clock::time_point started_;
  Result result_;
};

Result runMrdrun(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                 double limitSec = 8, const char* stdinPath = "/dev/null") {
  Mrdrun m;
  m.start(args, env, stdinPath);
  return m.finish(limitSec);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::multiset<std::string> lineSet(const std::string& text) {
  std::vector<std::string> l = lines(text);
  return std::multiset<std::string>(l.begin(), l.end());
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

#define EXPECT_CONTAINS(text, part) \
  EXPECT_TRUE(contains(text, part)) << "'" << (part) << "' not in:\n" << (text)

std::string selfPath() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

// True once pid is gone or a zombie nobody has reaped yet.
bool processGone(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t close = all.rfind(')');
  return close == std::string::npos || (close + 2 < all.size() && all[close + 2] == 'Z');
}

TEST(Mrdrun, SetsRankVariables) {
  Result r = runMrdrun({"-np", "3", "/bin/sh", "-c",
                        "echo $MRD_RANK $MRD_WORLD_SIZE $MRD_LOCAL_RANK $MRD_LOCAL_SIZE"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(lineSet(r.out), (std::multiset<std::string>{"0 3 0 3", "1 3 1 3", "2 3 2 3"}));
}

TEST(Mrdrun, EveryRankGetsTheSameParseableUniqueId) {
  Result r = runMrdrun({"-np", "3", "/bin/sh", "-c", "echo $MRD_UNIQUE_ID"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::vector<std::string> ids = lines(r.out);
  ASSERT_EQ(ids.size(), 3u) << r.out;
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(ids[0], ids[2]);
  mrdUniqueId id;
  mrd::Status st = mrd::uniqueIdFromString(ids[0], &id);
  EXPECT_TRUE(st.isOk()) << st.message();
  EXPECT_EQ(mrd::uniqueIdToString(id), ids[0]);
}

TEST(Mrdrun, AllRanksSucceedingExitsZero) {
  Result r = runMrdrun({"-np", "4", "true"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

TEST(Mrdrun, FailingRankEndsTheJobWithItsStatus) {
  Result r = runMrdrun(
      {"-np", "3", "/bin/sh", "-c", "if [ $MRD_RANK = 1 ]; then exit 3; fi; exec sleep 30"});
  EXPECT_FALSE(r.hung);
  EXPECT_EQ(r.exitCode, 3) << r.err;
  // The sleepers die of SIGTERM, well before the SIGKILL grace ends.
  EXPECT_LT(r.seconds, 2.0);
  EXPECT_CONTAINS(r.err, "mrdrun: rank 1 (pid ");
  EXPECT_CONTAINS(r.err, ") exited with status 3");
  // Only the cause is reported, not the ranks mrdrun itself took down.
  EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
}

TEST(Mrdrun, RankKilledBySignal) {
  Result r = runMrdrun(
      {"-np", "2", "/bin/sh", "-c", "if [ $MRD_RANK = 0 ]; then kill -KILL $$; fi; exec sleep 30"});
  EXPECT_EQ(r.exitCode, 128 + SIGKILL) << r.err;
  EXPECT_LT(r.seconds, 2.0);
  EXPECT_CONTAINS(r.err, "mrdrun: rank 0 (pid ");
  EXPECT_CONTAINS(r.err, "killed by signal SIGKILL");
}

TEST(Mrdrun, TimeoutKillsTheJob) {
  Result r = runMrdrun({"--timeout", "1", "-np", "2", "sleep", "30"});
  EXPECT_EQ(r.exitCode, 124) << r.err;
  EXPECT_GE(r.seconds, 0.9);
  EXPECT_LT(r.seconds, 3.0);
  EXPECT_CONTAINS(r.err, "mrdrun: timeout after 1 s, killing 2 ranks");
}

TEST(Mrdrun, TimeoutEscalatesToSigkill) {
  // The ranks ignore SIGTERM (the ignored disposition survives exec).
  Result r =
      runMrdrun({"--timeout", "0.5", "-np", "2", "/bin/sh", "-c", "trap '' TERM; exec sleep 30"});
  EXPECT_EQ(r.exitCode, 124) << r.err;
  EXPECT_GE(r.seconds, 2.4);  // 0.5 s timeout + 2 s grace
  EXPECT_LT(r.seconds, 5.0);
}

TEST(Mrdrun, TagOutputPrefixesLines) {
  Result r = runMrdrun({"--tag-output", "-np", "2", "/bin/sh", "-c",
                        "echo out$MRD_RANK; echo err$MRD_RANK >&2; echo two$MRD_RANK; "
                        "printf partial$MRD_RANK"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(lineSet(r.out), (std::multiset<std::string>{"[0] out0", "[0] two0", "[0] partial0",
                                                        "[1] out1", "[1] two1", "[1] partial1"}));
  EXPECT_EQ(lineSet(r.err), (std::multiset<std::string>{"[0] err0", "[1] err1"}));
  // Per rank, lines keep their order.
  EXPECT_LT(r.out.find("[0] out0"), r.out.find("[0] two0"));
  EXPECT_LT(r.out.find("[0] two0"), r.out.find("[0] partial0"));
}

TEST(Mrdrun, TagOutputKeepsLinesWholeUnderVolume) {
  Result r = runMrdrun({"--tag-output", "-np", "3", "/bin/sh", "-c",
                        "i=0; while [ $i -lt 3000 ]; do "
                        "echo rank$MRD_RANK-line-$i-abcdefghijklmnopqrstuvwxyz; i=$((i+1)); done"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::vector<std::string> all = lines(r.out);
  ASSERT_EQ(all.size(), 9000u);
  int next[3] = {0, 0, 0};
  for (const std::string& line : all) {
    ASSERT_GE(line.size(), 4u);
    int rank = line[1] - '0';
    ASSERT_TRUE(rank >= 0 && rank < 3) << line;
    std::string want = "[" + std::to_string(rank) + "] rank" + std::to_string(rank) + "-line-" +
                       std::to_string(next[rank]++) + "-abcdefghijklmnopqrstuvwxyz";
    ASSERT_EQ(line, want);
  }
}

TEST(Mrdrun, TagOutputReaderGoneStopsTheRanks) {
  Mrdrun m;
  m.start({"--tag-output", "-np", "2", "yes"});
  ASSERT_TRUE(m.waitForStdout("[1] y\n", 1, 5));
  m.closeStdout();
  // As without --tag-output, the ranks die of SIGPIPE instead of writing on
  // into a pipe nobody reads.
  Result r = m.finish(8);
  EXPECT_FALSE(r.hung);
  EXPECT_EQ(r.exitCode, 128 + SIGPIPE) << r.err;
  EXPECT_CONTAINS(r.err, "killed by signal SIGPIPE");
}

TEST(Mrdrun, ExportsVariables) {
  Result r = runMrdrun({"-x", "MRDRUN_TEST_FWD", "-x", "MRDRUN_TEST_SET=a=b c", "-np", "2",
                        "/bin/sh", "-c", "echo \"[$MRDRUN_TEST_FWD] [$MRDRUN_TEST_SET]\""},
                       {"MRDRUN_TEST_FWD=from-parent", "MRDRUN_TEST_SET=overridden"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(lineSet(r.out),
            (std::multiset<std::string>{"[from-parent] [a=b c]", "[from-parent] [a=b c]"}));
}

TEST(Mrdrun, ExportCannotOverrideTheRank) {
  Result r = runMrdrun({"-x", "MRD_RANK=7", "-np", "1", "/bin/sh", "-c", "echo $MRD_RANK"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "0\n");
}

TEST(Mrdrun, MissingProgram) {
  Result r = runMrdrun({"-np", "2", "no-such-program-for-mrdrun-test"});
  EXPECT_EQ(r.exitCode, 127) << r.err;
  EXPECT_LT(r.seconds, 2.0);
  EXPECT_CONTAINS(
      r.err, "mrdrun: cannot run 'no-such-program-for-mrdrun-test': No such file or directory");
}

TEST(Mrdrun, UsageErrors) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{},
                                             {"-np", "2"},
                                             {"true"},
                                             {"-np", "0", "true"},
                                             {"-np", "x", "true"},
                                             {"-np"},
                                             {"--timeout", "soon", "-np", "1", "true"},
                                             {"--bogus", "-np", "1", "true"},
                                             {"-x", "=v", "-np", "1", "true"}}) {
    Result r = runMrdrun(args);
    std::string shown;
    for (const std::string& a : args) shown += " " + a;
    EXPECT_EQ(r.exitCode, 2) << "mrdrun" << shown << "\n" << r.err;
    EXPECT_CONTAINS(r.err, "mrdrun: ");
  }
}

TEST(Mrdrun, HelpAndVersion) {
  Result help = runMrdrun({"--help"});
  EXPECT_EQ(help.exitCode, 0);
  EXPECT_CONTAINS(help.out, "Usage: mrdrun -np N");
  Result version = runMrdrun({"--version"});
  EXPECT_EQ(version.exitCode, 0);
  EXPECT_CONTAINS(version.out, "mrdrun (Meridian) ");
}

TEST(Mrdrun, ProgramArgumentsAreNotOptions) {
  Result r = runMrdrun({"-n", "1", "--", "/bin/echo", "-np", "5", "--timeout"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "-np 5 --timeout\n");
  r = runMrdrun({"--np=1", "/bin/echo", "-x", "y"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "-x y\n");
}

TEST(Mrdrun, StdinGoesToRankZeroOnly) {
  char path[] = "/tmp/mrdrun_test_stdin_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "hello\n", 6), 6);
  close(fd);
  Result r =
      runMrdrun({"-np", "2", "/bin/sh", "-c", "read x; echo \"$MRD_RANK [$x]\""}, {}, 8, path);
  unlink(path);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(lineSet(r.out), (std::multiset<std::string>{"0 [hello]", "1 []"}));
}

TEST(Mrdrun, ForwardsSignalsToEveryRank) {
  Mrdrun m;
  m.start({"-np", "2", "/bin/sh", "-c",
           "trap 'echo usr1-$MRD_RANK; exit 0' USR1; echo ready; "
           "while :; do sleep 0.1; done"});
  ASSERT_TRUE(m.waitForStdout("ready", 2, 5));
  m.signal(SIGUSR1);
  Result r = m.finish(8);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_CONTAINS(r.out, "usr1-0");
  EXPECT_CONTAINS(r.out, "usr1-1");
}

TEST(Mrdrun, SigtermEndsTheJob) {
  Mrdrun m;
  m.start({"-np", "3", "/bin/sh", "-c", "echo ready; exec sleep 30"});
  ASSERT_TRUE(m.waitForStdout("ready", 3, 5));
  m.signal(SIGTERM);
  Result r = m.finish(8);
  EXPECT_EQ(r.exitCode, 128 + SIGTERM) << r.err;
  EXPECT_CONTAINS(r.err, "killed by signal SIGTERM");
  EXPECT_LT(r.seconds, 3.0);
}

TEST(Mrdrun, RanksDieWithMrdrun) {
  Mrdrun m;
  m.start({"-np", "2", "/bin/sh", "-c", "echo pid $$; exec sleep 30"});
  ASSERT_TRUE(m.waitForStdout("pid ", 2, 5));
  m.signal(SIGKILL);
  Result r = m.finish(8);
  std::vector<pid_t> pids;
  for (const std::string& line : lines(r.out)) {
    if (line.rfind("pid ", 0) == 0) pids.push_back(static_cast<pid_t>(std::stoi(line.substr(4))));
  }
  ASSERT_EQ(pids.size(), 2u) << r.out;
  for (pid_t pid : pids) {
    Clock::time_point t = Clock::now();
    while (!processGone(pid) && secondsSince(t) < 3) usleep(10000);
    EXPECT_TRUE(processGone(pid)) << "rank pid " << pid << " outlived mrdrun";
  }
}

// ---- With the library: this binary run as the ranks ----

// The rank side of the tests below; skipped when not started by them.
TEST(MrdrunRank, Body) {
  const char* role = std::getenv("MRDRUN_TEST_ROLE");
  if (role == nullptr) GTEST_SKIP() << "runs only as a rank under mrdrun";
  if (std::string(role) == "fail-rank-1" && std::getenv("MRD_RANK") == std::string("1")) {
    _exit(5);  // before joining: the others wait in the bootstrap
  }
  mrdComm_t comm = nullptr;
  ASSERT_EQ(mrdCommInitFromEnv(&comm), mrdSuccess) << mrdGetLastError(nullptr);
  int rank = -1;
  int nranks = -1;
  ASSERT_EQ(mrdCommUserRank(comm, &rank), mrdSuccess);
  ASSERT_EQ(mrdCommCount(comm, &nranks), mrdSuccess);
  if (std::string(role) == "late-rank-1") {
    // Rank 1 comes to the allreduce late: rank 0 waits for it (hang
    // reports). Both say when they are where the test wants them.
    std::printf("rank %d %s\n", rank, rank == 1 ? "idle" : "entering");
    std::fflush(stdout);
    // (A signal cuts a sleep short: sleep until the time is up.)
    const auto until = Clock::now() + std::chrono::milliseconds(2500);
    while (rank == 1 && Clock::now() < until) usleep(50 * 1000);
  }
  std::vector<float> buf(4096, static_cast<float>(rank + 1));
  ASSERT_EQ(mrdAllReduce(buf.data(), buf.data(), buf.size(), mrdFloat, mrdSum, comm, nullptr),
            mrdSuccess)
      << mrdGetLastError(comm);
  float want = static_cast<float>(nranks * (nranks + 1) / 2);
  for (float v : buf) ASSERT_EQ(v, want);
  std::printf("rank %d of %d ok\n", rank, nranks);
  std::fflush(stdout);
  ASSERT_EQ(mrdCommDestroy(comm), mrdSuccess);
}

std::vector<std::string> rankArgs(const std::string& np, const std::string& role) {
  return {"--tag-output",
          "-np",
          np,
          "-x",
          "MRDRUN_TEST_ROLE=" + role,
          selfPath(),
          "--gtest_filter=MrdrunRank.Body",
          "--gtest_brief=1"};
}

TEST(MrdrunWithLibrary, RanksInitFromEnvAndAllReduce) {
  Result r = runMrdrun(rankArgs("3", "allreduce"));
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_CONTAINS(r.out, "[0] rank 0 of 3 ok");
  EXPECT_CONTAINS(r.out, "[1] rank 1 of 3 ok");
  EXPECT_CONTAINS(r.out, "[2] rank 2 of 3 ok");
}

TEST(MrdrunWithLibrary, RankFailingBeforeInitStopsTheOthers) {
  Result r = runMrdrun(rankArgs("3", "fail-rank-1"));
  EXPECT_FALSE(r.hung);
  EXPECT_EQ(r.exitCode, 5) << r.out << r.err;
  EXPECT_CONTAINS(r.err, "mrdrun: rank 1 (pid ");
  EXPECT_LT(r.seconds, 4.0);
}

TEST(MrdrunWithLibrary, AnOperationWaitingPastTheHangReportTimeSaysWhatItWaitsOn) {
  std::vector<std::string> args = rankArgs("2", "late-rank-1");
  args.insert(args.begin(), {"-x", "MRD_HANG_REPORT_MS=400"});
  Result r = runMrdrun(args, {}, 15);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  // Rank 0's allreduce (its first operation) waits on rank 1: receives
  // first, over shared memory, with the link's transfer named.
  EXPECT_CONTAINS(r.err, "rank 0: hang report: operation 1 (allreduce of 4096 float) on communicator ");
  EXPECT_CONTAINS(r.err, " without progress for 4");
  EXPECT_CONTAINS(r.err, "from peer 1 on channel ");
  EXPECT_CONTAINS(r.err, "(receive 1 of ");
  // Reported again after each further period, and only while it waits.
  EXPECT_CONTAINS(r.err, "without progress for 8");
  EXPECT_FALSE(contains(r.err, "[1] ") && contains(r.err, "rank 1: hang report: operation")) << r.err;
  // mrdrun asked rank 1 for its report too (once), and names it.
  EXPECT_CONTAINS(r.err, "rank 1: hang report: no operation in flight on communicator ");
  EXPECT_CONTAINS(r.err, "mrdrun: hang report from 2 of 2 ranks:");
  EXPECT_CONTAINS(r.err, "mrdrun:   rank 0: operation 1 (allreduce of 4096 float) on communicator ");
  EXPECT_CONTAINS(r.err, "mrdrun: the others wait on rank 1 (no operation in flight)");
}

TEST(MrdrunWithLibrary, Sigusr1MakesEveryRankReportBusyOrIdle) {
  Mrdrun m;
  std::vector<std::string> args = rankArgs("2", "late-rank-1");
  args.insert(args.begin(), {"-x", "MRD_HANG_REPORT_MS=0"});
  m.start(args, {});
  ASSERT_TRUE(m.waitForStdout("rank 1 idle", 1, 10));
  ASSERT_TRUE(m.waitForStdout("rank 0 entering", 1, 10));
  usleep(500 * 1000);  // rank 0 is inside its allreduce by now
  m.signal(SIGUSR1);
  Result r = m.finish(15);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_CONTAINS(r.err, "rank 0: hang report: operation 1 (allreduce of 4096 float) on communicator ");
  EXPECT_CONTAINS(r.err, "rank 1: hang report: no operation in flight on communicator ");
  EXPECT_CONTAINS(r.err, "(2 ranks, 0 operations run)");
  EXPECT_CONTAINS(r.err, "mrdrun: hang report from 2 of 2 ranks:");
  EXPECT_CONTAINS(r.err, "mrdrun: the others wait on rank 1 (no operation in flight)");
  // The ranks carried on: the signal did not end them.
  EXPECT_CONTAINS(r.out, "[0] rank 0 of 2 ok");
  EXPECT_CONTAINS(r.out, "[1] rank 1 of 2 ok");
}

}  // namespace
