// The command line of benchmarks/soak.
#pragma once

#include <cstdint>
#include <string>

#include "soak/random_op.h"

namespace soak {

struct Options {
  double seconds = -1;     // --seconds / --minutes; < 0: 60 s, or unlimited with --ops
  uint64_t ops = 0;        // --ops: stop after this many operation numbers (0: no limit)
  bool have_seed = false;  // --seed given
  uint64_t seed = 0;
  Choices choices;
  bool verbose = false;
  bool expect_fault = false;  // a rank may die: fail with exit 3, naming it
  int dead_rank = -1;         // --dead-rank: the rank the wrapper kills
  bool corrupt_once = false;  // tests only: flip one received element once
  double hang_seconds = -1;   // a step running this long is a hang (< 0: default)
  double progress_seconds = 10;
  double slow_ms = 2000;  // report steps that take longer (0: never)
  std::string colls_text = "all";
  std::string types_text = "all";
  std::string red_ops_text = "all";
};

// Exit statuses.
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;        // wrong elements, or a call failed without --expect-fault
constexpr int kExitUsage = 2;
constexpr int kExitFaultExpected = 3;  // a call failed under --expect-fault: reported, aborted
constexpr int kExitHang = 4;           // a step did not finish within --hang-seconds

// Parses argv; returns -1 to go on, else the status to exit with.
int ParseOptions(int argc, char** argv, Options* opts);

}  // namespace soak
