// link_fault_perf: runs allreduce (and/or alltoall) back to back for a set
// time, checks every result, and prints every interval the busbw and, for
// each remote peer of rank 0, each rail's share of the bytes sent and its
// paths' worst state; so a fault on a rail can be watched as it happens.
// With --fault, rank 0 starts a shell command at --fault-at seconds to cause
// the fault itself (tests/netns/rail_fault.sh), and the summary says how long
// the library took to react to each step the command reports. With
// --expect-relay the run fails unless rank 0 relayed chunks through a rank
// on a third host (its relay lane, rail -1 in mrdCommGetLinkStats): for a
// fault that cuts every path between two hosts (rail_fault.sh cut);
// --expect-relay=PCT: at least PCT% of its bytes to other hosts (a fault
// that slows every path between them, rail_fault.sh slow). With
// --shift-log, every rank writes a probe log (MRD_PROBE_LOG) and rank 0
// reads its own back to time the traffic shift: when the faulted rail
// stopped being handed bytes (shift_report.h).
//
//   netns_job.sh --rails 2 --ifname veth 2,2 link_fault_perf -b 16M -D 10
//       --fault "tests/netns/rail_fault.sh rate 1 50mbit" --fault-at 3
//
// Run under a launcher (mrdrun, netns_job.sh, torchrun, mpirun, srun).
#include <getopt.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/perf_driver.h"
#include "common/watchdog.h"
#include "link_fault/fault_hook.h"
#include "link_fault/op_check.h"
#include "link_fault/path_report.h"
#include "link_fault/shift_report.h"
#include "meridian/meridian.h"

namespace {

using mrdlinkfault::Coll;
using mrdlinkfault::MonotonicUs;

struct Args {
  size_t bytes = 16u << 20;
  double duration_s = 10.0;
  int interval_ms = 100;
  std::vector<Coll> colls{Coll::kAllReduce};
  std::string fault;
  double fault_at_s = 2.0;
  int check = 1;
  int timeout_s = 60;
  double max_op_ms = 0;  // > 0: an operation slower than this fails the run
  bool expect_relay = false;  // fail the run unless rank 0 relayed bytes to a peer
  double expect_relay_pct = 0;  // and at least this share of its bytes to other hosts
  double relay_at_most_pct = -1;  // fail if it relayed more than this share (< 0: no limit)
  std::string shift_log;      // probe log prefix: PREFIX.<rank>
};

void Usage(const char* prog) {
  std::printf(
      "usage: %s [options]\n"
      "  -b SIZE       bytes per rank per operation (default 16M; K/M/G suffixes)\n"
      "  -c LIST       collectives, run in turn: allreduce, alltoall (default allreduce)\n"
      "  -D SECONDS    how long to run (default 10)\n"
      "  -i MS         report interval (default 100)\n"
      "  --fault CMD   rank 0 runs `sh -c CMD` in the background at --fault-at; if it\n"
      "                fails (non-zero status), so does the run; still running at the\n"
      "                end, it is stopped (SIGTERM to its process group)\n"
      "  --fault-at S  seconds after the start (default 2)\n"
      "  -k 0|1        check every result (default 1)\n"
      "  -T SECONDS    end the process when one operation takes longer (default 60; 0: never)\n"
      "  --max-op-ms MS  fail the run (exit 1) if an operation took longer on rank 0\n"
      "  --expect-relay[=PCT]  fail the run (exit 1) unless rank 0 sent bytes to a peer\n"
      "                through a rank on a third host (a link's relay lane, stats entry\n"
      "                rail -1); with PCT, at least PCT%% of its bytes to other hosts\n"
      "  --relay-at-most PCT  fail the run (exit 1) if rank 0 relayed more than PCT%% of its\n"
      "                bytes to other hosts (healthy links must keep to their paths)\n"
      "  --shift-log PREFIX  every rank writes its probe log to PREFIX.<rank> (MRD_PROBE_LOG,\n"
      "                sampled every 200 us unless MRD_PROBE_LOG_INTERVAL_US is set; the\n"
      "                files are appended to); rank 0 reads its own back and says, per\n"
      "                --fault event on one rail, when that rail was handed <=10%% of the\n"
      "                bytes for 10 ms and 100 ms on (>=10%% again after a repair)\n",
      prog);
}

int ParseArgs(int argc, char** argv, Args* a) {
  static const option kLong[] = {{"fault", required_argument, nullptr, 'F'},
                                 {"fault-at", required_argument, nullptr, 'A'},
                                 {"max-op-ms", required_argument, nullptr, 'M'},
                                 {"expect-relay", optional_argument, nullptr, 'R'},
                                 {"relay-at-most", required_argument, nullptr, 'L'},
                                 {"shift-log", required_argument, nullptr, 'S'},
                                 {"help", no_argument, nullptr, 'h'},
                                 {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "b:c:D:i:k:T:h", kLong, nullptr)) != -1) {
    char* end = nullptr;
    switch (c) {
      case 'b': {
        const double v = mrdperf::ParseSize(optarg);
        if (v < 16 || v > 4.0 * (1u << 30)) {
          std::fprintf(stderr, "link_fault_perf: -b %s: want 16 bytes to 4G\n", optarg);
          return 2;
        }
        a->bytes = static_cast<size_t>(v);
        break;
      }
      case 'c': {
        a->colls.clear();
        std::string list = optarg;
        size_t pos = 0;
        while (pos <= list.size()) {
          const size_t comma = std::min(list.find(',', pos), list.size());
          const std::string name = list.substr(pos, comma - pos);
          Coll coll;
          if (!mrdlinkfault::ParseColl(name, &coll)) {
            std::fprintf(stderr, "link_fault_perf: -c: unknown collective '%s' (allreduce, alltoall)\n",
                         name.c_str());
            return 2;
          }
          a->colls.push_back(coll);
          pos = comma + 1;
        }
        break;
      }
      case 'D':
        a->duration_s = std::strtod(optarg, &end);
        if (*end != '\0' || !(a->duration_s > 0 && a->duration_s < 86400)) {
          std::fprintf(stderr, "link_fault_perf: -D %s: want seconds > 0\n", optarg);
          return 2;
        }
        break;
      case 'i':
        a->interval_ms = static_cast<int>(std::strtol(optarg, &end, 10));
        if (*end != '\0' || a->interval_ms < 1 || a->interval_ms > 600000) {
          std::fprintf(stderr, "link_fault_perf: -i %s: want 1..600000 ms\n", optarg);
          return 2;
        }
        break;
      case 'k':
        a->check = static_cast<int>(std::strtol(optarg, &end, 10));
        if (*end != '\0' || (a->check != 0 && a->check != 1)) {
          std::fprintf(stderr, "link_fault_perf: -k %s: want 0 or 1\n", optarg);
          return 2;
        }
        break;
      case 'T':
        a->timeout_s = static_cast<int>(std::strtol(optarg, &end, 10));
        if (*end != '\0' || a->timeout_s < 0) {
          std::fprintf(stderr, "link_fault_perf: -T %s: want seconds >= 0\n", optarg);
          return 2;
        }
        break;
      case 'F':
        a->fault = optarg;
        break;
      case 'A':
        a->fault_at_s = std::strtod(optarg, &end);
        if (*end != '\0' || !(a->fault_at_s >= 0)) {
          std::fprintf(stderr, "link_fault_perf: --fault-at %s: want seconds >= 0\n", optarg);
          return 2;
        }
        break;
      case 'M':
        a->max_op_ms = std::strtod(optarg, &end);
        if (*end != '\0' || !(a->max_op_ms > 0)) {
          std::fprintf(stderr, "link_fault_perf: --max-op-ms %s: want milliseconds > 0\n", optarg);
          return 2;
        }
        break;
      case 'L':
        a->relay_at_most_pct = std::strtod(optarg, &end);
        if (*end != '\0' || !(a->relay_at_most_pct >= 0 && a->relay_at_most_pct <= 100)) {
          std::fprintf(stderr, "link_fault_perf: --relay-at-most %s: want a percentage in [0, 100]\n", optarg);
          return 2;
        }
        break;
      case 'R':
        a->expect_relay = true;
        if (optarg != nullptr) {
          a->expect_relay_pct = std::strtod(optarg, &end);
          if (*end != '\0' || !(a->expect_relay_pct > 0 && a->expect_relay_pct <= 100)) {
            std::fprintf(stderr, "link_fault_perf: --expect-relay=%s: want a percentage in (0, 100]\n", optarg);
            return 2;
          }
        }
        break;
      case 'S':
        a->shift_log = optarg;
        // The library would expand %h, %p and %r in it; the reader knows
        // only the rank's number, appended.
        if (a->shift_log.empty() || a->shift_log.find('%') != std::string::npos) {
          std::fprintf(stderr, "link_fault_perf: --shift-log '%s': want a file name prefix without %%\n",
                       optarg);
          return 2;
        }
        break;
      case 'h':
        Usage(argv[0]);
        return 0;
      default:
        Usage(argv[0]);
        return 2;
    }
  }
  if (optind < argc) {
    std::fprintf(stderr, "link_fault_perf: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  return -1;
}

// --shift-log: the probe log for every rank, set before the communicator
// is made (the library reads its environment once, at the first init).
// False, with a message, when MRD_PROBE_LOG is set already: which file
// would be read back is then ambiguous.
bool SetShiftLogEnv(const std::string& prefix) {
  if (const char* set = std::getenv("MRD_PROBE_LOG"); set != nullptr) {
    std::fprintf(stderr,
                 "link_fault_perf: --shift-log %s and MRD_PROBE_LOG=%s both name a probe log; "
                 "unset MRD_PROBE_LOG or drop --shift-log\n",
                 prefix.c_str(), set);
    return false;
  }
  setenv("MRD_PROBE_LOG", (prefix + ".%r").c_str(), 1);
  // Samples every 200 us: a shift is timed to a few of them.
  setenv("MRD_PROBE_LOG_INTERVAL_US", "200", 0);
  return true;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One operation's timing, as rank 0 saw it.
struct OpTime {
  Coll coll;
  double start_ms;  // since the run's start
  double ms;
};

// --shift-log: the traffic shift after each fault event, from rank 0's
// probe log.
void PrintShifts(const std::string& log, uint64_t since_us,
                 const std::vector<mrdlinkfault::FaultEvent>& events) {
  std::vector<mrdlinkfault::TrafficSample> samples;
  std::string error;
  if (!mrdlinkfault::ReadTrafficSamples(log, /*rank=*/0, since_us, &samples, &error)) {
    std::printf("# shift: cannot read the probe log: %s\n", error.c_str());
    return;
  }
  if (samples.empty()) {
    std::printf("# shift: %s has no sample lines of rank 0 with traffic fields from this run\n", log.c_str());
    return;
  }
  const mrdlinkfault::TrafficHistory history(samples);
  const std::vector<std::string> lines = mrdlinkfault::ShiftLines(history, events);
  for (const std::string& line : lines) std::printf("# shift: %s\n", line.c_str());
  if (lines.empty()) std::printf("# shift: no --fault event names one rail (\"... rail N ...\")\n");
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (const int rc = ParseArgs(argc, argv, &args); rc >= 0) return rc;

  if (!args.shift_log.empty() && !SetShiftLogEnv(args.shift_log)) return 2;
  // Lines of the probe log from before (an earlier run's) are not this run's.
  const uint64_t init_us = MonotonicUs();

  mrdComm_t comm = nullptr;
  mrdperf::CheckCall(-1, nullptr, "mrdCommInitFromEnv", mrdCommInitFromEnv(&comm));
  int rank = 0, nranks = 1;
  mrdCommUserRank(comm, &rank);
  mrdCommCount(comm, &nranks);
  mrdperf::Watchdog watchdog(args.timeout_s, 1);
  mrdlinkfault::OpCheck check(rank, nranks, args.bytes);
  check.set_check(args.check != 0);
  mrdlinkfault::PathReport report(comm, rank, nranks);
  std::unique_ptr<mrdlinkfault::FaultHook> fault;
  if (rank == 0 && !args.fault.empty()) fault = std::make_unique<mrdlinkfault::FaultHook>(args.fault);

  if (rank == 0) {
    std::printf("# link_fault_perf: %d ranks, %zu bytes per operation, %.1f s, report every %d ms\n",
                nranks, args.bytes, args.duration_s, args.interval_ms);
    std::printf("#   time_ms   ops  busbw_GB/s  max_op_ms  | peer: rail state(H/D/X) share rtt_p50\n");
    std::fflush(stdout);
  }

  // The first operation connects and warms up; not timed.
  int64_t wrong = check.Run(comm, args.colls[0], /*iter=*/0, /*want_stop=*/false, nullptr);
  const uint64_t start_us = MonotonicUs();
  uint64_t next_report_us = start_us + static_cast<uint64_t>(args.interval_ms) * 1000u;
  std::vector<OpTime> ops;
  std::vector<double> interval_busbw;
  double interval_bus_bytes = 0, interval_op_s = 0, interval_max_ms = 0;
  int interval_ops = 0;
  bool stop = false;
  bool fault_start_failed = false;
  for (int64_t iter = 1; !stop; ++iter) {
    const Coll coll = args.colls[static_cast<size_t>(iter) % args.colls.size()];
    const uint64_t now = MonotonicUs();
    if (fault && !fault->started() && !fault_start_failed && now - start_us >= args.fault_at_s * 1e6) {
      fault_start_failed = !fault->Start();
    }
    if (fault) fault->Poll();
    const bool want_stop = now - start_us >= args.duration_s * 1e6;
    watchdog.Arm(0, rank, mrdlinkfault::CollName(coll));
    double op_ms = 0;
    wrong += check.Run(comm, coll, iter, want_stop, &op_ms);
    stop = check.stop_agreed();
    watchdog.Disarm(0);
    if (rank != 0) continue;
    ops.push_back({coll, (MonotonicUs() - start_us) / 1e3 - op_ms, op_ms});
    interval_bus_bytes += args.bytes * mrdlinkfault::BusFactor(coll, nranks);
    interval_op_s += op_ms / 1e3;
    interval_max_ms = std::max(interval_max_ms, op_ms);
    ++interval_ops;
    const uint64_t after = MonotonicUs();
    if (after >= next_report_us || stop) {
      std::string paths;
      if (!report.Sample(&paths)) {
        std::fprintf(stderr, "rank 0: %s\n", paths.c_str());
        return 1;
      }
      const double busbw = interval_op_s > 0 ? interval_bus_bytes / interval_op_s / 1e9 : 0.0;
      interval_busbw.push_back(busbw);
      std::printf("%10.0f %5d %11.3f %10.1f%s\n", (after - start_us) / 1e3, interval_ops, busbw,
                  interval_max_ms, paths.c_str());
      std::fflush(stdout);
      interval_bus_bytes = interval_op_s = interval_max_ms = 0;
      interval_ops = 0;
      while (next_report_us <= after) next_report_us += static_cast<uint64_t>(args.interval_ms) * 1000u;
    }
  }

  // Every rank's wrong-element count, summed.
  int64_t total_wrong = 0;
  mrdperf::CheckCall(rank, comm, "mrdAllReduce(wrong elements)",
                     mrdAllReduce(&wrong, &total_wrong, 1, mrdInt64, mrdSum, comm, nullptr));
  int fault_status = 0;
  if (fault) fault_status = fault->Finish();
  bool too_slow = false;
  bool fault_missing = false;
  bool relay_unmet = false;
  if (rank == 0) {
    const double total_ms = (MonotonicUs() - start_us) / 1e3;
    std::printf("# %zu operations in %.0f ms, %" PRId64 " wrong elements\n", ops.size(), total_ms,
                total_wrong);
    for (Coll coll : args.colls) {
      std::vector<double> times;
      double max_ms = 0, max_at = 0;
      for (const OpTime& t : ops) {
        if (t.coll != coll) continue;
        times.push_back(t.ms);
        if (t.ms > max_ms) max_ms = t.ms, max_at = t.start_ms;
      }
      if (times.empty()) continue;
      std::printf("# %s: median %.2f ms (busbw %.3f GB/s), max %.2f ms (started at +%.0f ms)\n",
                  mrdlinkfault::CollName(coll), Median(times),
                  args.bytes * mrdlinkfault::BusFactor(coll, nranks) / (Median(times) / 1e3) / 1e9,
                  max_ms, max_at);
    }
    for (const OpTime& t : ops) {
      if (args.max_op_ms > 0 && t.ms > args.max_op_ms) {
        std::printf("# too slow: %s at +%.0f ms took %.1f ms (--max-op-ms %.0f)\n",
                    mrdlinkfault::CollName(t.coll), t.start_ms, t.ms, args.max_op_ms);
        too_slow = true;
      }
    }
    std::printf("# interval busbw GB/s: median %.3f, min %.3f\n", Median(interval_busbw),
                interval_busbw.empty() ? 0.0 : *std::min_element(interval_busbw.begin(), interval_busbw.end()));
    uint64_t all_rails = 0;
    for (const auto& [rail, bytes] : report.rail_bytes()) all_rails += bytes;
    const mrdlinkfault::RailBytes resends = report.rail_resends();
    for (const auto& [rail, bytes] : report.rail_bytes()) {
      const auto r = resends.find(rail);
      std::printf("# %s carried %.1f%% of rank 0's bytes to other hosts; %llu of its chunks sent again elsewhere\n",
                  mrdlinkfault::RailName(rail).c_str(), all_rails ? 100.0 * bytes / all_rails : 0.0,
                  static_cast<unsigned long long>(r == resends.end() ? 0 : r->second));
    }
    for (const mrdlinkfault::StateChange& c : report.changes()) {
      std::printf("# path state change at +%.1f ms: peer %d channel %d %s %s -> %s\n",
                  (static_cast<double>(c.mono_us) - static_cast<double>(start_us)) / 1e3, c.peer,
                  c.channel, mrdlinkfault::RailName(c.rail).c_str(), mrdlinkfault::StateName(c.from),
                  mrdlinkfault::StateName(c.to));
    }
    if (fault) {
      for (const std::string& line : report.Reactions(fault->events())) {
        std::printf("# reaction: %s\n", line.c_str());
      }
      if (!args.shift_log.empty()) PrintShifts(args.shift_log + ".0", init_us, fault->events());
      if (fault_start_failed || !fault->started()) {
        std::printf("# the --fault command %s: no fault happened\n",
                    fault_start_failed ? "could not be started" : "never started (--fault-at after -D?)");
        fault_missing = true;
      }
      if (fault->failed()) {
        std::printf("# the --fault command failed (status %d): the fault may not have happened\n",
                    fault_status);
      }
    }
    if (args.expect_relay || args.relay_at_most_pct >= 0) {
      // Read now rather than summed from the samples: the library's count
      // as of the end, whatever the report interval.
      std::map<int, uint64_t> relayed;
      std::string error;
      uint64_t sent = 0;
      if (!report.RelayedBytes(&relayed, &sent, &error)) {
        std::printf("# relayed bytes: %s\n", error.c_str());
        relay_unmet = true;
      } else {
        uint64_t all = 0;
        for (const auto& [peer, bytes] : relayed) {
          std::printf("# relayed to peer %d through other hosts: %llu bytes\n", peer,
                      static_cast<unsigned long long>(bytes));
          all += bytes;
        }
        const double pct = sent > 0 ? 100.0 * static_cast<double>(all) / static_cast<double>(sent) : 0;
        std::printf("# relayed: %.1f%% of rank 0's bytes to other hosts\n", pct);
        if (args.relay_at_most_pct >= 0 && pct > args.relay_at_most_pct) {
          std::printf("# expected at most %.1f%% of rank 0's bytes relayed through another host\n",
                      args.relay_at_most_pct);
          relay_unmet = true;
        }
        if (args.expect_relay && all == 0) {
          std::printf("# expected chunks relayed through another host (stats entry rail -1), none were%s\n",
                      relayed.empty() ? " (no link lists a relay lane)" : "");
          relay_unmet = true;
        } else if (args.expect_relay && pct < args.expect_relay_pct) {
          std::printf("# expected at least %.1f%% of rank 0's bytes relayed through another host\n",
                      args.expect_relay_pct);
          relay_unmet = true;
        }
      }
    }
    std::fflush(stdout);
  }
  mrdperf::CheckCall(rank, comm, "mrdCommDestroy", mrdCommDestroy(comm));
  return total_wrong == 0 && !(fault && fault->failed()) && !too_slow && !fault_missing && !relay_unmet
             ? 0
             : 1;
}
