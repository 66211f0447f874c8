#include "common/options.h"

#include <getopt.h>
#include <libgen.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mrdperf {
namespace {

const char* const kTypeNames[mrdNumTypes] = {"int8",   "uint8",    "int32",  "uint32",
                                             "int64",  "uint64",   "half",   "float",
                                             "double", "bfloat16", "f8e4m3", "f8e5m2"};
const char* const kOpNames[kNumTestOps] = {"sum", "prod", "max", "min", "avg", "mulsum"};

bool ParseInt(const char* text, long* out) {
  char* end = nullptr;
  errno = 0;
  *out = std::strtol(text, &end, 0);
  return end != text && *end == '\0' && errno == 0;
}

int ParseType(const char* text) {
  for (int t = 0; t < mrdNumTypes; ++t) {
    if (std::strcmp(text, kTypeNames[t]) == 0) return t;
  }
  if (std::strcmp(text, "all") == 0) return kAll;
  std::printf("invalid type %s, defaulting to %s .. \n", text, kTypeNames[mrdFloat32]);
  return mrdFloat32;
}

int ParseOp(const char* text) {
  for (int o = 0; o < kNumTestOps; ++o) {
    if (std::strcmp(text, kOpNames[o]) == 0) return o;
  }
  if (std::strcmp(text, "all") == 0) return kAll;
  std::printf("invalid op %s, defaulting to %s .. \n", text, kOpNames[mrdSum]);
  return mrdSum;
}

void PrintUsage(const char* argv0) {
  char name[256];
  std::snprintf(name, sizeof(name), "%s", argv0);
  std::printf(
      "USAGE: %s \n\t"
      "[-t,--nthreads <num threads>] \n\t"
      "[-g,--ngpus <gpus per thread (1 only)>] \n\t"
      "[-b,--minbytes <min size in bytes>] \n\t"
      "[-e,--maxbytes <max size in bytes>] \n\t"
      "[-i,--stepbytes <increment size>] \n\t"
      "[-f,--stepfactor <increment factor>] \n\t"
      "[-n,--iters <iteration count>] \n\t"
      "[-m,--agg_iters <aggregated iteration count>] \n\t"
      "[-w,--warmup_iters <warmup iteration count>] \n\t"
      "[-p,--parallel_init <0/1>] \n\t"
      "[-c,--check <check iteration count>] \n\t"
      "[-o,--op <sum/prod/min/max/avg/mulsum/all>] \n\t"
      "[-d,--datatype <mrdtype/all>] \n\t"
      "[-r,--root <root/all>] \n\t"
      "[-z,--blocking <0/1>] \n\t"
      "[-y,--stream_null <0/1>] \n\t"
      "[-T,--timeout <time in seconds>] \n\t"
      "[-G,--cudagraph <num graph launches> (ignored)] \n\t"
      "[-C,--report_cputime <0/1>] \n\t"
      "[-a,--average <0/1/2/3> report average iteration time <0=RANK0/1=AVG/2=MIN/3=MAX>] \n\t"
      "[-J,--output_file <file> write output to filepath, in JSON] \n\t"
      "[-A,--algo <algorithm, or MRD_ALGO syntax> force the algorithm (sets MRD_ALGO)] \n\t"
      "[-h,--help]\n",
      basename(name));
}

// Applies one parsed flag. Returns false (after printing why) on a bad value.
bool ApplyFlag(int c, const char* arg, Options* opts) {
  long v = 0;
  switch (c) {
    case 'b':
    case 'e': {
      double parsed = ParseSize(arg);
      if (parsed < 0) {
        std::fprintf(stderr, "invalid size specified for '%s'\n",
                     c == 'b' ? "minbytes" : "maxbytes");
        return false;
      }
      (c == 'b' ? opts->min_bytes : opts->max_bytes) = static_cast<size_t>(parsed);
      return true;
    }
    case 'i': {
      double parsed = ParseSize(arg);
      if (parsed < 1) {
        std::fprintf(stderr, "invalid size specified for 'stepbytes'\n");
        return false;
      }
      opts->step_bytes = static_cast<size_t>(parsed);
      return true;
    }
    case 'o':
      opts->op = ParseOp(arg);
      return true;
    case 'd':
      opts->type = ParseType(arg);
      return true;
    case 'J':
      opts->json_path = arg;
      return true;
    case 'A':
      if (*arg == '\0') {
        std::fprintf(stderr, "-A (algo) must name an algorithm\n");
        return false;
      }
      opts->algo = arg;
      return true;
    case 'r':
      if (std::strcmp(arg, "all") == 0) {
        opts->root = kAll;
        return true;
      }
      break;
    case 'G':
      if (ParseInt(arg, &v) && v != 0) {
        std::printf("Option -G (CUDA graph) not supported by Meridian. Ignoring\n");
      }
      return true;
    default:
      break;
  }
  if (!ParseInt(arg, &v)) {
    std::fprintf(stderr, "invalid value '%s' for option '-%c'\n", arg, c);
    return false;
  }
  switch (c) {
    case 't':
      opts->nthreads = static_cast<int>(v);
      break;
    case 'g':
      if (v != 1) {
        std::fprintf(stderr, "Meridian runs on host memory: -g must be 1\n");
        return false;
      }
      break;
    case 'f':
      opts->step_factor = v > 0 ? static_cast<size_t>(v) : 0;
      break;
    case 'n':
      opts->iters = static_cast<int>(v);
      break;
    case 'w':
      opts->warmup_iters = static_cast<int>(v);
      break;
    case 'm':
      opts->agg_iters = static_cast<int>(v);
      break;
    case 'c':
      opts->check = static_cast<int>(v);
      break;
    case 'r':
      opts->root = static_cast<int>(v);
      break;
    case 'z':
      opts->blocking = static_cast<int>(v);
      break;
    case 'y':
      opts->stream_null = static_cast<int>(v);
      break;
    case 'T':
      opts->timeout_sec = static_cast<int>(v);
      break;
    case 'C':
      opts->report_cputime = static_cast<int>(v);
      break;
    case 'a':
      opts->average = static_cast<int>(v);
      break;
    case 'p':
      opts->parallel_init = static_cast<int>(v);
      break;
    default:
      return false;
  }
  return true;
}

// Cross-flag checks; prints the first problem.
bool Validate(const Options& o) {
  const char* problem = nullptr;
  if (o.min_bytes > o.max_bytes) {
    std::fprintf(stderr, "invalid sizes for 'minbytes' and 'maxbytes': %llu > %llu\n",
                 static_cast<unsigned long long>(o.min_bytes),
                 static_cast<unsigned long long>(o.max_bytes));
    return false;
  }
  if (o.nthreads < 1)
    problem = "-t (nthreads) must be at least 1";
  else if (o.step_factor < 1)
    problem = "-f (stepfactor) must be at least 1";
  else if (o.iters < 1)
    problem = "-n (iters) must be at least 1";
  else if (o.agg_iters < 1)
    problem = "-m (agg_iters) must be at least 1";
  else if (o.warmup_iters < 0)
    problem = "-w (warmup_iters) must not be negative";
  else if (o.check < 0)
    problem = "-c (check) must not be negative";
  else if (o.average < 0 || o.average > 3)
    problem = "-a (average) must be 0, 1, 2 or 3";
  else if (o.timeout_sec < 0)
    problem = "-T (timeout) must not be negative";
  else if (o.root < kAll)
    problem = "-r (root) must be a rank or 'all'";
  if (problem != nullptr) {
    std::fprintf(stderr, "%s\n", problem);
    return false;
  }
  return true;
}

}  // namespace

// "8", "64K", "1.5M", "2G" (binary units, either case). -1 when malformed.
double ParseSize(const char* text) {
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(text, &end);
  if (end == text || errno != 0 || value < 0) return -1.0;
  double unit = 1.0;
  switch (*end) {
    case '\0':
      break;
    case 'k':
    case 'K':
      unit = 1024.0;
      ++end;
      break;
    case 'm':
    case 'M':
      unit = 1024.0 * 1024.0;
      ++end;
      break;
    case 'g':
    case 'G':
      unit = 1024.0 * 1024.0 * 1024.0;
      ++end;
      break;
    default:
      return -1.0;
  }
  if (*end != '\0') return -1.0;
  return value * unit;
}

const char* TypeName(int type) {
  return type >= 0 && type < mrdNumTypes ? kTypeNames[type] : "unknown";
}

const char* OpName(int op) { return op >= 0 && op < kNumTestOps ? kOpNames[op] : "none"; }

int ParseOptions(int argc, char** argv, Options* opts) {
  static const struct option kLongOpts[] = {{"nthreads", required_argument, nullptr, 't'},
                                            {"ngpus", required_argument, nullptr, 'g'},
                                            {"minbytes", required_argument, nullptr, 'b'},
                                            {"maxbytes", required_argument, nullptr, 'e'},
                                            {"stepbytes", required_argument, nullptr, 'i'},
                                            {"stepfactor", required_argument, nullptr, 'f'},
                                            {"iters", required_argument, nullptr, 'n'},
                                            {"agg_iters", required_argument, nullptr, 'm'},
                                            {"warmup_iters", required_argument, nullptr, 'w'},
                                            {"parallel_init", required_argument, nullptr, 'p'},
                                            {"check", required_argument, nullptr, 'c'},
                                            {"op", required_argument, nullptr, 'o'},
                                            {"datatype", required_argument, nullptr, 'd'},
                                            {"root", required_argument, nullptr, 'r'},
                                            {"blocking", required_argument, nullptr, 'z'},
                                            {"stream_null", required_argument, nullptr, 'y'},
                                            {"timeout", required_argument, nullptr, 'T'},
                                            {"cudagraph", required_argument, nullptr, 'G'},
                                            {"report_cputime", required_argument, nullptr, 'C'},
                                            {"average", required_argument, nullptr, 'a'},
                                            {"output_file", required_argument, nullptr, 'J'},
                                            {"algo", required_argument, nullptr, 'A'},
                                            {"help", no_argument, nullptr, 'h'},
                                            {nullptr, 0, nullptr, 0}};
  while (true) {
    int index = 0;
    int c =
        getopt_long(argc, argv, "t:g:b:e:i:f:n:m:w:p:c:o:d:r:z:y:T:G:C:a:J:A:h", kLongOpts, &index);
    if (c == -1) break;
    if (c == 'h') {
      PrintUsage(argv[0]);
      return 0;
    }
    if (c == '?' || c == ':') {
      PrintUsage(argv[0]);
      return 1;
    }
    if (!ApplyFlag(c, optarg, opts)) return 1;
  }
  if (optind < argc) {
    std::fprintf(stderr, "unexpected argument '%s'\n", argv[optind]);
    PrintUsage(argv[0]);
    return 1;
  }
  if (opts->warmup_iters == -1) opts->warmup_iters = DefaultWarmupIters();
  return Validate(*opts) ? -1 : 1;
}

int DefaultWarmupIters() {
  // With MRD_AUTOTUNE=1 the library's tuner times up to 4 candidate
  // algorithms, MRD_AUTOTUNE_ROUNDS (default 3) calls each, on the first
  // calls of every size: the default warm-up then covers them, so timed
  // iterations see the settled choice.
  const char* on = std::getenv("MRD_AUTOTUNE");
  if (on == nullptr || std::strcmp(on, "1") != 0) return 1;
  long rounds = 3;
  const char* r = std::getenv("MRD_AUTOTUNE_ROUNDS");
  if (r != nullptr && (!ParseInt(r, &rounds) || rounds < 1 || rounds > 100)) rounds = 3;
  return static_cast<int>(4 * rounds + 1);
}

}  // namespace mrdperf
