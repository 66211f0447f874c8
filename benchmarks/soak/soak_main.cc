// benchmarks/soak: random collectives, every element checked, for as long
// as asked (README: "Soak"). One process per rank under mrdrun or any
// launcher; every rank draws the same operations from rank 0's seed.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "common/options.h"
#include "meridian/meridian.h"
#include "common/watchdog.h"
#include "soak/op_run.h"
#include "soak/random_op.h"
#include "soak/soak_options.h"

namespace soak {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A step that runs too long is a hang (the watchdog's thread): what the
// rank was doing, the library's hang report (SIGUSR1, if the library took
// it: it leaves it alone otherwise, and the default action would end the
// process unreported), exit kExitHang.
[[noreturn]] void OnHang(int rank, const std::string& what, double seconds) {
  std::fprintf(stderr, "soak: rank %d: HANG: %s has not finished after %.0f s\n", rank, what.c_str(), seconds);
  struct sigaction old {};
  if (sigaction(SIGUSR1, nullptr, &old) == 0 && old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
    raise(SIGUSR1);
    sleep(2);
  }
  std::fflush(stderr);
  std::_Exit(kExitHang);
}

long long UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

// A communicator the steps run on: the world, or a split slot.
struct Slot {
  bool live = false;           // the same on every rank
  mrdComm_t comm = nullptr;    // nullptr on a rank outside it
  mrdStream_t stream = nullptr;
  int color = -1;              // DrawOp's group: -1 for the world
  int rank = -1;
  int size = 0;
  std::vector<int> members;    // world ranks, in this communicator's rank order
  std::string name;
};

// Counters summed over the ranks at the end; a communicator's operation
// counts once (on its rank 0).
enum Stat { kWrong, kBytes, kOps, kInPlace, kOnSplit, kOnStream, kInGroup, kColl0, kNumStats = kColl0 + kNumColls };

struct State {
  Options opts;
  int rank = 0;
  int nranks = 1;
  uint64_t seed = 0;
  Slot world;
  Slot splits[kSplitSlots];
  uint64_t splits_made = 0;
  int64_t stats[kNumStats] = {};
  PrintBudget budget;
  int slow_lines = 20;      // slow steps reported per rank
  double slowest_ms = 0;    // this rank's slowest step
  bool corrupt = false;
  std::unique_ptr<mrdperf::Watchdog> watch;  // slot 0: this rank's step
};

bool Names(const std::string& text, int rank) {
  return std::regex_search(text, std::regex("\\b(rank|peer) " + std::to_string(rank) + "\\b"));
}

// The error text of a failed call: the communicator's, else this thread's.
std::string ErrorText(mrdComm_t comm, bool thread_first) {
  const char* t = mrdGetLastError(nullptr);
  if (thread_first && t != nullptr && *t != '\0') return t;
  const char* c = comm != nullptr ? mrdGetLastError(comm) : nullptr;
  return c != nullptr && *c != '\0' ? c : (t != nullptr ? t : "");
}

// A call failed: report, abort every communicator, exit (3 when a fault
// was expected, 1 otherwise).
[[noreturn]] void Fail(State& st, const char* call, mrdResult_t r, const std::string& err,
                       const Slot* slot, const std::string& what) {
  const Clock::time_point t0 = Clock::now();
  std::fflush(stdout);
  std::fprintf(stderr, "soak: rank %d: %s failed (%s; %s) at unix_ms %lld: %s: %s\n", st.rank, call,
               what.c_str(), slot != nullptr ? slot->name.c_str() : "world", UnixMs(),
               mrdGetErrorString(r), err.c_str());
  const int dead = st.opts.dead_rank;
  if (dead >= 0) {
    bool named = Names(err, dead);
    std::string as;
    if (!named && slot != nullptr) {  // a split numbers its ranks its own way
      const auto it = std::find(slot->members.begin(), slot->members.end(), dead);
      if (it != slot->members.end() && Names(err, static_cast<int>(it - slot->members.begin()))) {
        named = true;
        as = " (as rank " + std::to_string(it - slot->members.begin()) + " of " + slot->name + ")";
      }
    }
    std::fprintf(stderr, "soak: rank %d: the error names the dead rank %d: %s%s\n", st.rank, dead,
                 named ? "yes" : "no", as.c_str());
  }
  for (Slot& s : st.splits) {
    if (s.comm != nullptr) mrdCommAbort(s.comm);
  }
  if (st.world.comm != nullptr) mrdCommAbort(st.world.comm);
  for (Slot& s : st.splits) {
    if (s.stream != nullptr) mrdStreamDestroy(s.stream);
  }
  if (st.world.stream != nullptr) mrdStreamDestroy(st.world.stream);
  const int code = st.opts.expect_fault ? kExitFaultExpected : kExitFailed;
  std::fprintf(stderr, "soak: rank %d: communicators aborted in %.0f ms; exit %d%s\n", st.rank,
               SecondsSince(t0) * 1e3, code,
               st.opts.expect_fault ? " (failed as expected after a fault)" : "");
  std::fflush(stderr);
  std::_Exit(code);
}

void Check(State& st, const char* call, mrdResult_t r, const Slot* slot, const std::string& what,
           bool thread_error = false) {
  if (r != mrdSuccess) Fail(st, call, r, ErrorText(slot ? slot->comm : st.world.comm, thread_error), slot, what);
}

void MakeSplit(State& st, int index) {
  const SplitPlan p = DrawSplit(st.seed, st.splits_made, st.nranks);
  const size_t me = static_cast<size_t>(st.rank);
  const std::string what = "split " + std::to_string(st.splits_made) + " (" + p.scheme + ")";
  ++st.splits_made;
  mrdComm_t comm = nullptr;
  Check(st, "mrdCommSplit", mrdCommSplit(st.world.comm, p.color[me], p.key[me], &comm, nullptr),
        nullptr, what);
  Slot& s = st.splits[index];
  s = Slot();
  s.live = true;
  if (p.color[me] == MRD_SPLIT_NOCOLOR) {
    if (comm != nullptr) {
      std::fprintf(stderr, "soak: rank %d: WRONG %s: a communicator without a color\n", st.rank, what.c_str());
      ++st.stats[kWrong];
      mrdCommDestroy(comm);
    }
    return;
  }
  s.comm = comm;
  Check(st, "mrdCommUserRank", mrdCommUserRank(comm, &s.rank), &s, what);
  Check(st, "mrdCommCount", mrdCommCount(comm, &s.size), &s, what);
  if (s.rank != p.new_rank[me] || s.size != p.new_size[me]) {
    std::fprintf(stderr, "soak: rank %d: WRONG %s: rank %d of %d, expected %d of %d\n", st.rank,
                 what.c_str(), s.rank, s.size, p.new_rank[me], p.new_size[me]);
    ++st.stats[kWrong];
  }
  s.color = p.color[me];
  s.members = p.members[me];
  s.name = what + " color " + std::to_string(s.color) + ", rank " + std::to_string(s.rank) +
           " of " + std::to_string(s.size);
  if (st.opts.choices.streams) Check(st, "mrdStreamCreate", mrdStreamCreate(comm, &s.stream), &s, what);
}

void DestroySplit(State& st, int index) {
  Slot& s = st.splits[index];
  if (s.stream != nullptr) Check(st, "mrdStreamDestroy", mrdStreamDestroy(s.stream), &s, "destroy");
  s.stream = nullptr;
  if (s.comm != nullptr) Check(st, "mrdCommDestroy", mrdCommDestroy(s.comm), &s, "destroy");
  s = Slot();
}

// Runs one step's operations on slot (if this rank is in it) and checks them.
void RunStep(State& st, const StepPlan& plan, Slot& slot, uint64_t first) {
  if (slot.comm == nullptr) return;
  std::vector<std::unique_ptr<OpRun>> runs;
  const bool on_stream = plan.mode == Mode::kStream || plan.mode == Mode::kGroupStream;
  const bool in_group = plan.mode == Mode::kGroup || plan.mode == Mode::kGroupStream;
  std::string where = slot.name + ", " + ModeName(plan.mode);
  for (int i = 0; i < plan.nops; ++i) {
    const OpSpec spec = DrawOp(st.seed, first + static_cast<uint64_t>(i), slot.color, slot.size, st.opts.choices);
    runs.emplace_back(new OpRun(spec, slot.rank, slot.size, where));
    runs.back()->Prepare();
    if (st.opts.verbose && st.rank == 0) std::printf("soak: %s\n", runs.back()->Text().c_str());
  }
  const std::string what = runs.front()->Text() + (plan.nops > 1 ? " and the rest of its step" : "");
  st.watch->Arm(0, st.rank, what);
  const Clock::time_point t0 = Clock::now();
  for (auto& run : runs) Check(st, "mrdRedOpCreatePreMulSum", run->CreateOp(slot.comm), &slot, run->Text());
  mrdStream_t stream = on_stream ? slot.stream : nullptr;
  if (in_group) Check(st, "mrdGroupStart", mrdGroupStart(), &slot, what, true);
  for (auto& run : runs) {
    const char* call = "";
    const mrdResult_t r = run->Issue(slot.comm, stream, &call);
    Check(st, call, r, &slot, run->Text());
  }
  if (in_group) Check(st, "mrdGroupEnd", mrdGroupEnd(), &slot, what, true);
  if (stream != nullptr) Check(st, "mrdStreamSynchronize", mrdStreamSynchronize(stream), &slot, what, true);
  st.watch->Disarm(0);
  const double ms = SecondsSince(t0) * 1e3;
  st.slowest_ms = std::max(st.slowest_ms, ms);
  if (st.opts.slow_ms > 0 && ms >= st.opts.slow_ms && st.slow_lines > 0) {
    --st.slow_lines;
    std::fprintf(stderr, "soak: rank %d: slow step: %.0f ms (ended at unix_ms %lld): %s\n", st.rank,
                 ms, UnixMs(), what.c_str());
  }
  for (auto& run : runs) {
    Check(st, "mrdRedOpDestroy", run->DestroyOp(slot.comm), &slot, run->Text());
    st.stats[kWrong] += run->Check(st.rank, &st.budget, &st.corrupt);
    st.stats[kBytes] += static_cast<int64_t>(run->Bytes());
    if (slot.rank != 0) continue;
    ++st.stats[kOps];
    ++st.stats[kColl0 + static_cast<int>(run->spec().coll)];
    if (run->spec().in_place) ++st.stats[kInPlace];
    if (slot.color >= 0) ++st.stats[kOnSplit];
    if (on_stream) ++st.stats[kOnStream];
    if (in_group) ++st.stats[kInGroup];
  }
}

void PrintHeader(const State& st) {
  const Options& o = st.opts;
  char duration[64] = "no time limit";
  if (o.seconds > 0) std::snprintf(duration, sizeof(duration), "%g s", o.seconds);
  std::printf("soak: %d ranks, seed %" PRIu64 ", max bytes %zu, %s, colls %s, types %s, ops %s%s%s%s\n",
              st.nranks, st.seed, o.choices.max_bytes, duration, o.colls_text.c_str(),
              o.types_text.c_str(), o.red_ops_text.c_str(), o.choices.splits ? "" : ", no splits",
              o.choices.streams ? "" : ", no streams", o.choices.groups ? "" : ", no groups");
  std::printf("soak: replay with: --seed %" PRIu64 " --max-bytes %zu --colls %s --types %s --red-ops %s%s%s%s%s\n",
              st.seed, o.choices.max_bytes, o.colls_text.c_str(), o.types_text.c_str(), o.red_ops_text.c_str(),
              o.choices.splits ? "" : " --no-splits", o.choices.streams ? "" : " --no-streams",
              o.choices.groups ? "" : " --no-groups",
              o.choices.uneven_alltoallv ? "" : " --even-alltoallv");
}

void PrintSummary(const State& st, const int64_t* total, uint64_t op_numbers, double secs,
                  double slowest_ms) {
  const double minutes = std::max(secs, 1e-9) / 60;
  std::printf("soak: ran %" PRId64 " operations (%" PRIu64 " operation numbers) in %.1f s: %.0f ops/minute\n",
              total[kOps], op_numbers, secs, static_cast<double>(total[kOps]) / minutes);
  std::printf("soak: bytes moved: %.3f GB (each rank's larger buffer per call, summed)\n",
              static_cast<double>(total[kBytes]) / 1e9);
  std::string per;
  for (int c = 0; c < kNumColls; ++c) {
    per += std::string(c ? ", " : "") + CollName(static_cast<Coll>(c)) + " " + std::to_string(total[kColl0 + c]);
  }
  std::printf("soak: per collective: %s\n", per.c_str());
  std::printf("soak: in-place %" PRId64 ", on a stream %" PRId64 ", in a group %" PRId64
              ", on a split %" PRId64 " (%" PRIu64 " splits made)\n",
              total[kInPlace], total[kOnStream], total[kInGroup], total[kOnSplit], st.splits_made);
  std::printf("soak: slowest step (issue to completion, any rank): %.0f ms\n", slowest_ms);
  std::printf("soak: wrong elements: %" PRId64 "\n", total[kWrong]);
  std::printf("soak: %s (seed %" PRIu64 ")\n", total[kWrong] == 0 ? "PASS" : "FAIL", st.seed);
}

int Run(State& st) {
  const Options& o = st.opts;
  const Clock::time_point start = Clock::now();
  Clock::time_point last_progress = start;
  uint64_t index = 0;
  for (uint64_t step = 0;; ++step) {
    bool live[kSplitSlots];
    for (int s = 0; s < kSplitSlots; ++s) live[s] = st.splits[s].live;
    StepPlan plan = DrawStep(st.seed, step, live, o.choices);
    if (o.ops > 0) plan.nops = static_cast<int>(std::min<uint64_t>(plan.nops, o.ops - index));
    st.watch->Arm(0, st.rank, "step " + std::to_string(step) + " (splits and the stop flag)");
    if (plan.destroy_split >= 0) DestroySplit(st, plan.destroy_split);
    if (plan.make_split >= 0) MakeSplit(st, plan.make_split);
    RunStep(st, plan, plan.comm_slot < 0 ? st.world : st.splits[plan.comm_slot], index);
    index += static_cast<uint64_t>(plan.nops);
    // Rank 0 decides when to stop; every rank learns it here.
    int64_t stop = 0;
    if (st.rank == 0) {
      const double secs = SecondsSince(start);
      stop = (o.ops > 0 && index >= o.ops) || (o.seconds > 0 && secs >= o.seconds);
      if (o.progress_seconds > 0 && SecondsSince(last_progress) >= o.progress_seconds) {
        last_progress = Clock::now();
        std::printf("soak: %.0f s: %" PRIu64 " operation numbers, rank 0: %" PRId64 " wrong elements\n",
                    secs, index, st.stats[kWrong]);
      }
    }
    st.watch->Arm(0, st.rank, "the stop flag after step " + std::to_string(step));
    Check(st, "mrdBroadcast", mrdBroadcast(&stop, &stop, 1, mrdInt64, 0, st.world.comm, nullptr),
          nullptr, "the stop flag after operation " + std::to_string(index - 1));
    st.watch->Disarm(0);
    if (stop) break;
  }
  const double secs = SecondsSince(start);
  int64_t total[kNumStats];
  std::copy(st.stats, st.stats + kNumStats, total);
  st.watch->Arm(0, st.rank, "the summary");
  Check(st, "mrdAllReduce", mrdAllReduce(total, total, kNumStats, mrdInt64, mrdSum, st.world.comm, nullptr),
        nullptr, "the summary");
  double slowest = st.slowest_ms;
  Check(st, "mrdAllReduce", mrdAllReduce(&slowest, &slowest, 1, mrdFloat64, mrdMax, st.world.comm, nullptr),
        nullptr, "the summary");
  if (st.rank == 0) PrintSummary(st, total, index, secs, slowest);
  for (int s = 0; s < kSplitSlots; ++s) {
    if (st.splits[s].live) DestroySplit(st, s);
  }
  if (st.world.stream != nullptr) Check(st, "mrdStreamDestroy", mrdStreamDestroy(st.world.stream), nullptr, "the end");
  st.world.stream = nullptr;
  Check(st, "mrdCommDestroy", mrdCommDestroy(st.world.comm), nullptr, "the end");
  st.world.comm = nullptr;
  st.watch->Disarm(0);
  return total[kWrong] == 0 ? kExitOk : kExitFailed;
}

bool UnderLauncher() {
  for (const char* v : {"MRD_UNIQUE_ID", "MRD_RANK", "RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    if (std::getenv(v) != nullptr) return true;
  }
  return false;
}

}  // namespace
}  // namespace soak

int main(int argc, char** argv) {
  using namespace soak;
  setlinebuf(stdout);
  State st;
  const int parsed = ParseOptions(argc, argv, &st.opts);
  if (parsed >= 0) return parsed;
  Options& o = st.opts;
  // The library reads its environment at its first call.
  if (o.expect_fault && std::getenv("MRD_TIMEOUT_MS") == nullptr) setenv("MRD_TIMEOUT_MS", "30000", 1);
  if (o.hang_seconds < 0) {
    const char* t = std::getenv("MRD_TIMEOUT_MS");
    o.hang_seconds = o.expect_fault && t != nullptr ? std::atof(t) / 1000 + 30 : 300;
  }
  mrdResult_t r;
  if (UnderLauncher()) {
    r = mrdCommInitFromEnv(&st.world.comm);
  } else {  // a one-rank job
    mrdUniqueId id;
    r = mrdGetUniqueId(&id);
    if (r == mrdSuccess) r = mrdCommInitRank(&st.world.comm, 1, id, 0);
  }
  if (r != mrdSuccess) {
    std::fprintf(stderr, "soak: communicator init failed: %s: %s\n", mrdGetErrorString(r), mrdGetLastError(nullptr));
    return o.expect_fault ? kExitFaultExpected : kExitFailed;
  }
  mrdCommUserRank(st.world.comm, &st.rank);
  mrdCommCount(st.world.comm, &st.nranks);
  st.world.live = true;
  st.world.rank = st.rank;
  st.world.size = st.nranks;
  st.world.name = "world";
  for (int q = 0; q < st.nranks; ++q) st.world.members.push_back(q);
  st.watch.reset(new mrdperf::Watchdog(o.hang_seconds, 1, [seconds = o.hang_seconds](int rank, const std::string& what) {
    OnHang(rank, what, seconds);
  }));
  st.corrupt = o.corrupt_once && st.rank == 0;
  // Rank 0's seed and sizes for everyone.
  uint64_t shared[2] = {o.have_seed ? o.seed : Mix(static_cast<uint64_t>(UnixMs()) ^ (static_cast<uint64_t>(getpid()) << 32)),
                        o.choices.max_bytes};
  st.watch->Arm(0, st.rank, "the seed broadcast");
  Check(st, "mrdBroadcast", mrdBroadcast(shared, shared, 2, mrdUint64, 0, st.world.comm, nullptr), nullptr, "the seed");
  st.seed = shared[0];
  o.choices.max_bytes = static_cast<size_t>(shared[1]);
  if (o.choices.streams) Check(st, "mrdStreamCreate", mrdStreamCreate(st.world.comm, &st.world.stream), nullptr, "init");
  st.watch->Disarm(0);
  if (st.rank == 0) PrintHeader(st);
  const int status = Run(st);
  st.watch.reset();
  return status;
}
