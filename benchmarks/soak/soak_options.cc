#include "soak/soak_options.h"

#include <getopt.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "common/options.h"

namespace soak {
namespace {

void Usage(const char* argv0) {
  std::printf(
      "usage: %s [options]   (one process per rank, under mrdrun or any launcher)\n"
      "Random collectives with every element checked; see benchmarks/README.md.\n"
      "  --seconds S | --minutes M  how long to run (default 60 s; unlimited with --ops)\n"
      "  --ops N            stop after N operations (operation numbers)\n"
      "  --seed S           the run's seed (default: from the time, rank 0's wins)\n"
      "  --max-bytes B      largest buffer of a rank (K/M/G; default 4M)\n"
      "  --colls LIST       allreduce,reduce,broadcast,allgather,reduce_scatter,alltoall,\n"
      "                     alltoallv,gather,scatter,sendrecv,barrier (default all)\n"
      "  --types LIST       int8,uint8,int32,uint32,int64,uint64,half,float,double,bfloat16,\n"
      "                     f8e4m3,f8e5m2 (default all)\n"
      "  --red-ops LIST     sum,prod,max,min,avg,mulsum (default all)\n"
      "  --no-splits, --no-streams, --no-groups   leave those out\n"
      "  --even-alltoallv   every rank sends and receives the same alltoallv total\n"
      "                     (by default each pair has its own count and the totals differ)\n"
      "  --verbose          rank 0 prints every operation\n"
      "  --progress S       rank 0 prints a progress line every S seconds (default 10; 0: never)\n"
      "  --slow-ms MS       report steps taking longer than MS (default 2000; 0: never)\n"
      "  --hang-seconds S   a step running longer is a hang: report, exit 4\n"
      "                     (default 300; with --expect-fault MRD_TIMEOUT_MS/1000 + 30)\n"
      "  --expect-fault     a rank may die: a failed call is reported (error text, whether it\n"
      "                     names --dead-rank), the communicators aborted, exit 3; sets\n"
      "                     MRD_TIMEOUT_MS=30000 unless set\n"
      "  --dead-rank R      the rank a wrapper kills (to check that errors name it)\n"
      "  --corrupt-once     tests only: flip one received element once (must fail the run)\n"
      "exit status: 0 all correct; 1 wrong elements or a failed call; 2 usage; 3 failed as\n"
      "expected after a fault (--expect-fault); 4 hang\n",
      argv0);
}

bool ParseDouble(const char* text, double* out) {
  char* end = nullptr;
  errno = 0;
  *out = std::strtod(text, &end);
  return end != text && *end == '\0' && errno == 0 && *out >= 0;
}

bool ParseU64(const char* text, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  *out = std::strtoull(text, &end, 0);
  return end != text && *end == '\0' && errno == 0;
}

bool ParseOps(const std::string& text, Choices* c) {
  c->red_ops.clear();
  std::stringstream ss(text == "all" ? "sum,prod,max,min,avg,mulsum" : text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int found = -1;
    for (int op = 0; op < kNumSoakOps; ++op) {
      if (item == SoakOpName(op)) found = op;
    }
    if (found < 0) return false;
    c->red_ops.push_back(found);
  }
  return !c->red_ops.empty();
}

bool ParseList(const std::string& text, bool colls, Choices* c) {
  if (colls) c->colls.clear();
  else c->types.clear();
  if (text == "all") {
    for (int i = 0; colls && i < kNumColls; ++i) c->colls.push_back(static_cast<Coll>(i));
    for (int t = 0; !colls && t < mrdNumTypes; ++t) c->types.push_back(static_cast<mrdDataType_t>(t));
    return true;
  }
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (colls) {
      Coll coll;
      if (!ParseColl(item, &coll)) return false;
      c->colls.push_back(coll);
    } else {
      int found = -1;
      for (int t = 0; t < mrdNumTypes; ++t) {
        if (item == mrdperf::TypeName(t)) found = t;
      }
      if (found < 0) return false;
      c->types.push_back(static_cast<mrdDataType_t>(found));
    }
  }
  return colls ? !c->colls.empty() : !c->types.empty();
}

}  // namespace

int ParseOptions(int argc, char** argv, Options* o) {
  enum {
    kSeconds = 256, kMinutes, kOps, kSeed, kMaxBytes, kColls, kTypes, kRedOps, kNoSplits, kNoStreams,
    kNoGroups, kUneven, kVerbose, kProgress, kSlow, kHang, kExpectFault, kDeadRank, kCorrupt, kHelp
  };
  static const struct option kLong[] = {
      {"seconds", required_argument, nullptr, kSeconds},
      {"minutes", required_argument, nullptr, kMinutes},
      {"ops", required_argument, nullptr, kOps},
      {"seed", required_argument, nullptr, kSeed},
      {"max-bytes", required_argument, nullptr, kMaxBytes},
      {"colls", required_argument, nullptr, kColls},
      {"types", required_argument, nullptr, kTypes},
      {"red-ops", required_argument, nullptr, kRedOps},
      {"no-splits", no_argument, nullptr, kNoSplits},
      {"no-streams", no_argument, nullptr, kNoStreams},
      {"no-groups", no_argument, nullptr, kNoGroups},
      {"even-alltoallv", no_argument, nullptr, kUneven},
      {"verbose", no_argument, nullptr, kVerbose},
      {"progress", required_argument, nullptr, kProgress},
      {"slow-ms", required_argument, nullptr, kSlow},
      {"hang-seconds", required_argument, nullptr, kHang},
      {"expect-fault", no_argument, nullptr, kExpectFault},
      {"dead-rank", required_argument, nullptr, kDeadRank},
      {"corrupt-once", no_argument, nullptr, kCorrupt},
      {"help", no_argument, nullptr, kHelp},
      {nullptr, 0, nullptr, 0}};
  ParseList("all", true, &o->choices);
  ParseList("all", false, &o->choices);
  ParseOps("all", &o->choices);
  int c;
  while ((c = getopt_long(argc, argv, "h", kLong, nullptr)) != -1) {
    bool ok = true;
    double d = 0;
    uint64_t u = 0;
    switch (c) {
      case kSeconds: ok = ParseDouble(optarg, &o->seconds); break;
      case kMinutes: ok = ParseDouble(optarg, &d); o->seconds = d * 60; break;
      case kOps: ok = ParseU64(optarg, &o->ops); break;
      case kSeed: ok = ParseU64(optarg, &o->seed); o->have_seed = true; break;
      case kMaxBytes: {
        const double b = mrdperf::ParseSize(optarg);
        ok = b >= 1;
        o->choices.max_bytes = static_cast<size_t>(b);
        break;
      }
      case kColls: o->colls_text = optarg; ok = ParseList(optarg, true, &o->choices); break;
      case kTypes: o->types_text = optarg; ok = ParseList(optarg, false, &o->choices); break;
      case kRedOps: o->red_ops_text = optarg; ok = ParseOps(optarg, &o->choices); break;
      case kNoSplits: o->choices.splits = false; break;
      case kNoStreams: o->choices.streams = false; break;
      case kNoGroups: o->choices.groups = false; break;
      case kUneven: o->choices.uneven_alltoallv = false; break;
      case kVerbose: o->verbose = true; break;
      case kProgress: ok = ParseDouble(optarg, &o->progress_seconds); break;
      case kSlow: ok = ParseDouble(optarg, &o->slow_ms); break;
      case kHang: ok = ParseDouble(optarg, &o->hang_seconds); break;
      case kExpectFault: o->expect_fault = true; break;
      case kDeadRank: ok = ParseU64(optarg, &u); o->dead_rank = static_cast<int>(u); break;
      case kCorrupt: o->corrupt_once = true; break;
      case kHelp:
      case 'h': Usage(argv[0]); return kExitOk;
      default: Usage(argv[0]); return kExitUsage;
    }
    if (!ok) {
      std::fprintf(stderr, "soak: bad value for %s: %s\n", argv[optind - 1], optarg);
      return kExitUsage;
    }
  }
  if (optind < argc) {
    std::fprintf(stderr, "soak: unexpected argument %s\n", argv[optind]);
    return kExitUsage;
  }
  if (o->seconds < 0) o->seconds = o->ops > 0 ? 0 : 60;
  return -1;
}

}  // namespace soak
