#include "common/report.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "meridian/meridian.h"

namespace mrdperf {
namespace {

// value in `width` characters: 2 decimals if they fit, then 1, then 0, then
// scientific (as nccl-tests).
std::string Fit(double value, int width) {
  char buf[64];
  for (const char* fmt : {"%*.2f", "%*.1f", "%*.0f"}) {
    if (std::snprintf(buf, sizeof(buf), fmt, width, value) <= width) return buf;
  }
  std::snprintf(buf, sizeof(buf), width >= 7 ? "%*.1e" : "%*.0e", width, value);
  return buf;
}

std::string Now() {
  char buf[64];
  std::time_t t = std::time(nullptr);
  struct tm tm_buf;
  localtime_r(&t, &tm_buf);
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm_buf);
  return buf;
}

}  // namespace

Reporter::Reporter(const Options& opts, const char* program, int argc, char** argv)
    : opts_(opts), program_(program) {
  for (int i = 0; i < argc; ++i) args_.emplace_back(argv[i]);
  int version = 0;
  if (mrdGetVersion(&version) != mrdSuccess) version = 0;
  json_.BeginObject();
  json_.Key("version");
  json_.Int(1);
  json_.Key("benchmark");
  json_.String(program_);
  json_.Key("start_time");
  json_.String(Now());
  json_.Key("args");
  json_.BeginList();
  for (const std::string& arg : args_) json_.String(arg);
  json_.EndList();
  json_.Key("meridian_version");
  json_.Int(version);
}

void Reporter::Header(const std::vector<RankInfo>& ranks) {
  const Options& o = opts_;
  const bool factor = o.step_factor > 1;
  if (!o.json_path.empty()) std::printf("# Writing JSON output to %s\n", o.json_path.c_str());
  std::printf(
      "# nThread %d nGpus 1 minBytes %zu maxBytes %zu step: %zu(%s) warmup iters: %d "
      "iters: %d agg iters: %d validation: %d graph: 0\n",
      o.nthreads, o.min_bytes, o.max_bytes, factor ? o.step_factor : o.step_bytes,
      factor ? "factor" : "bytes", o.warmup_iters, o.iters, o.agg_iters, o.check);
  const char* algo_env = std::getenv("MRD_ALGO");
  const std::string algo = !o.algo.empty() ? o.algo
                           : algo_env != nullptr && *algo_env != '\0' ? algo_env
                                                                       : "tuned";
  std::printf("# Algorithm: %s%s\n", algo.c_str(),
              !o.algo.empty() ? " (-A)" : algo != "tuned" ? " (MRD_ALGO)" : "");
  if (o.blocking) {
    std::printf("# Blocking Enabled: wait for completion and barrier after each collective \n");
  }
  std::printf("#\n# Using devices\n");
  for (const RankInfo& r : ranks) {
    std::printf("#  Rank %2d Group %2d Pid %6d on %10s device %2d [host] CPU\n", r.rank, 0, r.pid,
                r.host.c_str(), r.device);
  }
  const char* time = o.report_cputime ? "cputime" : "time";
  std::printf("#\n");
  std::printf(
      "# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place"
      "          \n",
      "", "", "", "", "");
  std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s\n", "size",
              "count", "type", "redop", "root", time, "algbw", "busbw", "#wrong", time, "algbw",
              "busbw", "#wrong");
  std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s\n", "(B)",
              "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)",
              "");
  std::fflush(stdout);

  json_.Key("config");
  json_.BeginObject();
  json_.Key("nthreads");
  json_.Int(o.nthreads);
  json_.Key("ngpus");
  json_.Int(1);
  json_.Key("nranks");
  json_.Int(static_cast<int64_t>(ranks.size()));
  json_.Key("minimum_bytes");
  json_.Size(o.min_bytes);
  json_.Key("maximum_bytes");
  json_.Size(o.max_bytes);
  json_.Key(factor ? "step_factor" : "step_bytes");
  json_.Size(factor ? o.step_factor : o.step_bytes);
  json_.Key("warmup_iters");
  json_.Int(o.warmup_iters);
  json_.Key("iterations");
  json_.Int(o.iters);
  json_.Key("aggregated_iterations");
  json_.Int(o.agg_iters);
  json_.Key("validation");
  json_.Int(o.check);
  json_.Key("graph");
  json_.Int(0);
  json_.Key("blocking_collectives");
  json_.Bool(o.blocking != 0);
  json_.Key("stream_null");
  json_.Bool(o.stream_null != 0);
  json_.Key("average");
  json_.Int(o.average);
  json_.Key("algorithm");
  json_.String(algo);
  json_.Key("devices");
  json_.BeginList();
  for (const RankInfo& r : ranks) {
    json_.BeginObject();
    json_.Key("rank");
    json_.Int(r.rank);
    json_.Key("group");
    json_.Int(0);
    json_.Key("pid");
    json_.Int(r.pid);
    json_.Key("hostname");
    json_.String(r.host);
    json_.Key("device");
    json_.Int(r.device);
    json_.EndObject();
  }
  json_.EndList();
  json_.EndObject();
  json_.Key("results");
  json_.BeginList();
}

void Reporter::BeginRow(size_t bytes, size_t count, const char* type, const char* op, int root) {
  std::printf("%12zu  %12zu  %8s  %6s  %6d", bytes, count, type, op, root);
  std::fflush(stdout);
  json_.BeginObject();
  json_.Key("size");
  json_.Size(bytes);
  json_.Key("count");
  json_.Size(count);
  json_.Key("type");
  json_.String(type);
  json_.Key("redop");
  json_.String(op);
  json_.Key("root");
  json_.Int(root);
}

void Reporter::Result(const ModeResult& r, bool in_place) {
  const std::string time = Fit(r.time_us, 7);
  const std::string alg = Fit(r.algbw, 6);
  const std::string bus = Fit(r.busbw, 6);
  if (r.checked) {
    std::printf("  %7s  %6s  %6s  %6g", time.c_str(), alg.c_str(), bus.c_str(),
                static_cast<double>(r.wrong));
  } else {
    std::printf("  %7s  %6s  %6s    N/A", time.c_str(), alg.c_str(), bus.c_str());
  }
  std::fflush(stdout);
  json_.Key(in_place ? "in_place" : "out_of_place");
  json_.BeginObject();
  json_.Key(opts_.report_cputime ? "cpu_time" : "time");
  json_.Double(r.time_us);
  json_.Key("alg_bw");
  json_.Double(r.algbw);
  json_.Key("bus_bw");
  json_.Double(r.busbw);
  json_.Key("nwrong");
  if (r.checked) {
    json_.Int(r.wrong);
  } else {
    json_.Null();
  }
  json_.EndObject();
}

void Reporter::EndRow() {
  std::printf("\n");
  std::fflush(stdout);
  json_.Key("actual_iterations");
  json_.Int(opts_.iters);
  json_.EndObject();
}

void Reporter::Footer(int64_t errors, double avg_busbw, double min_bw) {
  const bool bw_ok = min_bw < 0 || avg_busbw >= min_bw;
  std::printf("# %-20s : %lld %s\n", "Out of bounds values", static_cast<long long>(errors),
              errors ? "FAILED" : "OK");
  std::printf("# %-20s : %g %s\n", "Avg bus bandwidth", avg_busbw,
              min_bw < 0 ? "" : (bw_ok ? "OK" : "FAILED"));
  std::printf("#\n");
  std::fflush(stdout);
  json_.EndList();  // results
  json_.Key("out_of_bounds");
  json_.BeginObject();
  json_.Key("count");
  json_.Int(errors);
  json_.Key("okay");
  json_.Bool(errors == 0);
  json_.EndObject();
  json_.Key("average_bus_bandwidth");
  json_.BeginObject();
  json_.Key("bandwidth");
  json_.Double(avg_busbw);
  json_.Key("okay");
  if (min_bw < 0) {
    json_.String("unchecked");
  } else {
    json_.Bool(bw_ok);
  }
  json_.EndObject();
  json_.Key("end_time");
  json_.String(Now());
  json_.EndObject();
}

bool Reporter::WriteJson() {
  if (opts_.json_path.empty()) return true;
  FILE* f = std::fopen(opts_.json_path.c_str(), "w");
  bool ok = f != nullptr;
  if (ok) {
    ok = std::fwrite(json_.text().data(), 1, json_.text().size(), f) == json_.text().size();
    ok = (std::fputc('\n', f) != EOF) && ok;
    ok = (std::fclose(f) == 0) && ok;
  }
  if (!ok) std::fprintf(stderr, "cannot write JSON output to %s\n", opts_.json_path.c_str());
  return ok;
}

}  // namespace mrdperf
