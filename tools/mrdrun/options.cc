#include "options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace mrdrun {
namespace {

// A job of more ranks than this is a typo, and forking it would hurt the
// machine before anything could report the mistake.
constexpr long kMaxRanks = 65536;

bool parseNp(const std::string& text, int* np, std::string* error) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || text[0] < '0' || text[0] > '9' || *end != '\0' || errno == ERANGE) {
    *error = "-np: '" + text + "' is not a number";
    return false;
  }
  if (v < 1 || v > kMaxRanks) {
    *error = "-np: " + text + " must be in 1.." + std::to_string(kMaxRanks);
    return false;
  }
  *np = static_cast<int>(v);
  return true;
}

bool parseTimeout(const std::string& text, Options* out, std::string* error) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || text[0] < '0' || text[0] > '9' || *end != '\0' || errno == ERANGE ||
      !std::isfinite(v)) {
    *error = "--timeout: '" + text + "' is not a number of seconds";
    return false;
  }
  out->timeoutSec = v;
  out->timeoutText = text;
  return true;
}

bool parseExport(const std::string& text, Options* out, std::string* error) {
  size_t eq = text.find('=');
  std::string name = text.substr(0, eq);
  if (name.empty()) {
    *error = "-x: '" + text + "' has no variable name";
    return false;
  }
  if (eq == std::string::npos) {
    out->exports.emplace_back(name, std::nullopt);
  } else {
    out->exports.emplace_back(name, text.substr(eq + 1));
  }
  return true;
}

}  // namespace

bool parseOptions(int argc, char** argv, Options* out, std::string* error) {
  *out = Options();
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') break;  // the program
    if (arg == "-h" || arg == "--help") {
      out->help = true;
      return true;
    }
    if (arg == "--version") {
      out->version = true;
      return true;
    }
    // Open MPI accepts its long options with one dash or two; so do we.
    std::string name = arg;
    std::string value;
    bool hasValue = false;
    if (name.compare(0, 2, "--") == 0) name.erase(0, 1);
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.erase(eq);
      hasValue = true;
    }
    bool takesValue = name == "-np" || name == "-n" || name == "-x" || name == "-timeout";
    if (name == "-tag-output") {
      if (hasValue) {
        *error = "--tag-output takes no value";
        return false;
      }
      out->tagOutput = true;
      continue;
    }
    if (!takesValue) {
      *error = "unknown option '" + arg + "'";
      return false;
    }
    if (!hasValue) {
      if (i + 1 >= argc) {
        *error = "option '" + arg + "' needs a value";
        return false;
      }
      value = argv[++i];
    }
    bool ok = true;
    if (name == "-np" || name == "-n") {
      ok = parseNp(value, &out->np, error);
    } else if (name == "-x") {
      ok = parseExport(value, out, error);
    } else {
      ok = parseTimeout(value, out, error);
    }
    if (!ok) return false;
  }
  for (; i < argc; ++i) out->command.emplace_back(argv[i]);
  if (out->command.empty()) {
    *error = "no program to run";
    return false;
  }
  if (out->np == 0) {
    *error = "the number of ranks is missing: give -np N";
    return false;
  }
  return true;
}

const char* usageText() {
  return "Usage: mrdrun -np N [options] [--] program [args...]\n"
         "Starts N copies of program on this machine as the ranks of one Meridian job.\n"
         "\n"
         "  -np N, -n N       number of ranks (processes) to start\n"
         "  -x VAR=VALUE      set VAR in every rank's environment\n"
         "  -x VAR            forward mrdrun's own VAR (ranks inherit the environment anyway)\n"
         "  --tag-output      prefix each line of a rank's output with \"[rank] \"\n"
         "  --timeout S       kill the job after S seconds and exit with status 124\n"
         "  -h, --help        show this help\n"
         "  --version         show the version\n"
         "\n"
         "Each rank gets MRD_RANK, MRD_WORLD_SIZE, MRD_LOCAL_RANK, MRD_LOCAL_SIZE and\n"
         "MRD_UNIQUE_ID, which mrdCommInitFromEnv reads. Rank 0 reads mrdrun's stdin;\n"
         "the others read /dev/null. Signals INT, TERM, HUP, USR1 and USR2 sent to\n"
         "mrdrun are forwarded to every rank. When a rank fails, the others get SIGTERM,\n"
         "then SIGKILL 2 s later, and mrdrun exits with the failed rank's status\n"
         "(128 + signal number if it was killed by a signal).\n";
}

}  // namespace mrdrun
