// mrdrun's command line, parsed apart from the launching so the two can be
// read (and changed) independently.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mrdrun {

struct Options {
  int np = 0;
  // -x VAR=VAL (second set) or -x VAR (second empty: forward mrdrun's own).
  std::vector<std::pair<std::string, std::optional<std::string>>> exports;
  bool tagOutput = false;
  double timeoutSec = 0;             // 0: no timeout
  std::string timeoutText;           // as the user wrote it, for the timeout message
  std::vector<std::string> command;  // program and its arguments
  bool help = false;
  bool version = false;
};

// Fills *out from argv. Returns false with *error set on a usage error.
// --help and --version stop parsing; the caller checks them first.
bool parseOptions(int argc, char** argv, Options* out, std::string* error);

const char* usageText();

}  // namespace mrdrun
