#include "common/perf_driver.h"

#include <libgen.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/bench.h"
#include "common/options.h"
#include "common/report.h"
#include "common/watchdog.h"

namespace mrdperf {
namespace {

// Set by a launcher (mrdrun, torchrun, mpirun, srun): one rank per process.
const char* const kLauncherVars[] = {"MRD_UNIQUE_ID",        "MRD_RANK", "RANK",
                                     "OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID"};
const char* const kLocalRankVars[] = {"MRD_LOCAL_RANK", "LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK",
                                      "MPI_LOCALRANKID", "SLURM_LOCALID"};

const char* LauncherVar() {
  for (const char* name : kLauncherVars) {
    if (std::getenv(name) != nullptr) return name;
  }
  return nullptr;
}

int LocalRank(int slot) {
  for (const char* name : kLocalRankVars) {
    if (const char* v = std::getenv(name)) return std::atoi(v);
  }
  return slot;
}

// What one rank tells rank 0 for the "# Using devices" lines.
struct RankRecord {
  int32_t rank;
  int32_t pid;
  int32_t device;
  char host[244];
};
static_assert(sizeof(RankRecord) == 256, "fixed-size record");

std::vector<RankInfo> GatherRankInfo(const RankContext& ctx) {
  RankRecord mine{};
  mine.rank = ctx.rank;
  mine.pid = static_cast<int32_t>(getpid());
  mine.device = LocalRank(ctx.slot);
  gethostname(mine.host, sizeof(mine.host) - 1);
  std::vector<RankRecord> all(static_cast<size_t>(ctx.nranks));
  CheckCall(ctx.rank, ctx.comm, "mrdAllGather",
            mrdAllGather(&mine, all.data(), sizeof(RankRecord), mrdUint8, ctx.comm, nullptr));
  std::vector<RankInfo> infos;
  for (const RankRecord& r : all) {
    infos.push_back(RankInfo{r.rank, r.pid, r.device, std::string(r.host, strnlen(r.host, 244))});
  }
  return infos;
}

void Teardown(const RankContext& ctx) {
  if (ctx.stream != nullptr) {
    CheckCall(ctx.rank, ctx.comm, "mrdStreamDestroy", mrdStreamDestroy(ctx.stream));
  }
  CheckCall(ctx.rank, ctx.comm, "mrdCommDestroy", mrdCommDestroy(ctx.comm));
}

struct Shared {
  const Options* opts;
  const CollSpec* spec;
  Watchdog* watchdog;
  Reporter* reporter;
  bool from_env;
  mrdUniqueId id;
};

// One rank from communicator creation to destruction; returns its exit status.
int RankMain(const Shared& shared, int slot) {
  const Options& o = *shared.opts;
  RankContext ctx;
  ctx.opts = shared.opts;
  ctx.spec = shared.spec;
  ctx.watchdog = shared.watchdog;
  ctx.slot = slot;
  ctx.watchdog->Arm(slot, slot, "communicator initialization");
  const mrdResult_t init = shared.from_env
                              ? mrdCommInitFromEnv(&ctx.comm)
                              : mrdCommInitRank(&ctx.comm, o.nthreads, shared.id, slot);
  if (init != mrdSuccess && !o.algo.empty()) {
    std::fprintf(stderr, "-A %s (MRD_ALGO=%s): communicator initialization failed\n",
                 o.algo.c_str(), o.algo.c_str());
  }
  CheckCall(slot, nullptr, shared.from_env ? "mrdCommInitFromEnv" : "mrdCommInitRank", init);
  CheckCall(slot, ctx.comm, "mrdCommUserRank", mrdCommUserRank(ctx.comm, &ctx.rank));
  CheckCall(ctx.rank, ctx.comm, "mrdCommCount", mrdCommCount(ctx.comm, &ctx.nranks));
  if (!o.stream_null) {
    CheckCall(ctx.rank, ctx.comm, "mrdStreamCreate", mrdStreamCreate(ctx.comm, &ctx.stream));
  }
  if (ctx.rank == 0) ctx.reporter = shared.reporter;
  const std::vector<RankInfo> infos = GatherRankInfo(ctx);
  ctx.watchdog->Disarm(slot);
  if (ctx.spec->rooted && o.root >= ctx.nranks) {
    if (ctx.rank == 0) std::fprintf(stderr, "invalid root %d: %d ranks\n", o.root, ctx.nranks);
    Teardown(ctx);
    return EXIT_FAILURE;
  }
  if (ctx.reporter != nullptr) ctx.reporter->Header(infos);

  const size_t words = (BufferBytes(o, *ctx.spec, ctx.nranks) + 7) / 8;
  std::vector<uint64_t> sendbuf(words), recvbuf(words);
  ctx.sendbuf = reinterpret_cast<unsigned char*>(sendbuf.data());
  ctx.recvbuf = reinterpret_cast<unsigned char*>(recvbuf.data());

  RunAllTests(&ctx);

  int64_t errors = ctx.local_errors;
  CheckCall(ctx.rank, ctx.comm, "mrdAllReduce",
            mrdAllReduce(&errors, &errors, 1, mrdInt64, mrdSum, ctx.comm, nullptr));
  const double avg_bw = ctx.busbw_count > 0 ? ctx.busbw_sum / ctx.busbw_count : 0.0;
  const char* min_env = std::getenv("MRD_TESTS_MIN_BW");
  const double min_bw = min_env != nullptr ? std::atof(min_env) : -1.0;
  int status = errors != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
  if (ctx.reporter != nullptr) {
    ctx.reporter->Footer(errors, avg_bw, min_bw);
    if (!ctx.reporter->WriteJson()) status = EXIT_FAILURE;
    if (min_bw >= 0 && avg_bw < min_bw) {
      std::fprintf(stderr, "average bus bandwidth %g GB/s is below MRD_TESTS_MIN_BW=%g\n", avg_bw,
                   min_bw);
    }
  }
  if (min_bw >= 0 && avg_bw < min_bw) status = EXIT_FAILURE;

  Teardown(ctx);
  return status;
}

}  // namespace

void CheckCall(int rank, mrdComm_t comm, const char* call, mrdResult_t result) {
  if (result == mrdSuccess) return;
  const char* last = mrdGetLastError(comm);
  std::fflush(stdout);
  std::fprintf(stderr, "rank %d: %s failed: %s (%s)\n", rank, call, mrdGetErrorString(result),
               last != nullptr ? last : "");
  std::fflush(stderr);
  std::_Exit(EXIT_FAILURE);
}

size_t PerRankCount(size_t count, size_t elt_size, int nranks) {
  const size_t align = std::max<size_t>(16 / elt_size, 1);
  return (count / static_cast<size_t>(nranks)) & ~(align - 1);
}

int PerfMain(int argc, char** argv, const CollSpec& spec) {
  setlinebuf(stdout);
  Options opts;
  const int parsed = ParseOptions(argc, argv, &opts);
  if (parsed >= 0) return parsed;
  // The library reads its environment once, at its first call: -A must be
  // in place before anything below calls it.
  if (!opts.algo.empty() && setenv("MRD_ALGO", opts.algo.c_str(), 1) != 0) {
    std::fprintf(stderr, "-A %s: cannot set MRD_ALGO\n", opts.algo.c_str());
    return EXIT_FAILURE;
  }

  Shared shared{};
  shared.opts = &opts;
  shared.spec = &spec;
  const char* launcher = LauncherVar();
  shared.from_env = launcher != nullptr;
  if (shared.from_env && opts.nthreads > 1) {
    std::fprintf(stderr,
                 "-t %d: several ranks per process are not supported under a launcher (%s is "
                 "set); start one process per rank instead\n",
                 opts.nthreads, launcher);
    return EXIT_FAILURE;
  }
  std::string program(argv[0]);
  program = basename(&program[0]);
  Reporter reporter(opts, program.c_str(), argc, argv);
  shared.reporter = &reporter;
  Watchdog watchdog(opts.timeout_sec, opts.nthreads);
  shared.watchdog = &watchdog;

  if (shared.from_env) return RankMain(shared, 0);

  CheckCall(0, nullptr, "mrdGetUniqueId", mrdGetUniqueId(&shared.id));
  std::vector<int> status(static_cast<size_t>(opts.nthreads), EXIT_SUCCESS);
  std::vector<std::thread> threads;
  for (int t = 0; t < opts.nthreads; ++t) {
    threads.emplace_back([&shared, &status, t] { status[t] = RankMain(shared, t); });
  }
  for (std::thread& th : threads) th.join();
  return *std::max_element(status.begin(), status.end());
}

}  // namespace mrdperf
