// The output of rank 0: nccl-tests' header, table and footer on stdout, and
// the same results as JSON (-J).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/json_writer.h"
#include "common/options.h"

namespace mrdperf {

struct RankInfo {
  int rank;
  int pid;
  int device;
  std::string host;
};

struct ModeResult {
  double time_us;
  double algbw;  // GB/s
  double busbw;  // GB/s
  int64_t wrong;
  bool checked;  // false: #wrong is N/A
};

class Reporter {
 public:
  Reporter(const Options& opts, const char* program, int argc, char** argv);

  // Everything up to and including the table header.
  void Header(const std::vector<RankInfo>& ranks);
  // One table row: BeginRow, then Result for out-of-place and in-place, then
  // EndRow. Each piece is printed (and flushed) as soon as it is known.
  void BeginRow(size_t bytes, size_t count, const char* type, const char* op, int root);
  void Result(const ModeResult& result, bool in_place);
  void EndRow();
  // min_bw < 0: MRD_TESTS_MIN_BW is not set.
  void Footer(int64_t errors, double avg_busbw, double min_bw);
  // Writes the JSON file if -J was given; false (after a message) on failure.
  bool WriteJson();

 private:
  const Options& opts_;
  std::string program_;
  std::vector<std::string> args_;
  JsonWriter json_;
};

}  // namespace mrdperf
