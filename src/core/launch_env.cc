// Reads the variables launchers set for each process. This is the only file
// of the library that calls getenv for launcher variables (config/params.cc
// owns the MRD_* tuning variables); it re-reads the environment on every call
// instead of caching, so a process (or a unit test) that changes its
// environment before mrdCommInitFromEnv sees the new values.
#include "core/launch_env.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>

namespace mrd {
namespace {

// One launcher's variable names. localRank/localSize may be null when the
// launcher has no such variable.
struct LauncherVars {
  const char* source;
  const char* rank;
  const char* size;
  const char* localRank;
  const char* localSize;
};

// In precedence order: mrdrun's own variables first, because a job started by
// mrdrun inside a Slurm allocation or a torchrun-managed shell also carries
// the outer launcher's variables, and those describe a different job.
constexpr LauncherVars kLaunchers[] = {
    {"mrdrun", "MRD_RANK", "MRD_WORLD_SIZE", "MRD_LOCAL_RANK", "MRD_LOCAL_SIZE"},
    {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"},
    {"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE"},
    {"hydra", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
    {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", nullptr},
};

// An empty value counts as unset: `VAR= prog` is the usual shell idiom for
// switching a variable off without unset, and "" is never a valid value here.
const char* envValue(const char* name) {
  if (name == nullptr) return nullptr;
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? v : nullptr;
}

bool isSet(const char* name) { return envValue(name) != nullptr; }

// Whole-string decimal integer: strtol alone would accept " 3", "3x" and
// silently clamp overflow, and a rank of 0 from "abc" would make every
// process claim rank 0.
Status parseInt(const char* name, const char* text, int* out) {
  std::string shown = std::string(name) + "=" + text;
  const char* p = text;
  if (*p == '-' || *p == '+') ++p;
  if (*p < '0' || *p > '9') return invalidUsage(shown + " is not an integer");
  errno = 0;
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (*end != '\0') return invalidUsage(shown + " is not an integer");
  if (errno == ERANGE || v < INT_MIN || v > INT_MAX) {
    return invalidUsage(shown + " is out of range");
  }
  *out = static_cast<int>(v);
  return Status::ok();
}

// Reads an optional integer variable; *out stays -1 when it is unset.
Status readOptionalInt(const char* name, int* out) {
  *out = -1;
  const char* v = envValue(name);
  if (v == nullptr) return Status::ok();
  return parseInt(name, v, out);
}

Status readRankAndSize(const LauncherVars& l, LaunchInfo* out) {
  const char* rankText = envValue(l.rank);
  const char* sizeText = envValue(l.size);
  // The launcher was detected by one of the pair, so the other missing is a
  // broken environment, not a reason to fall through to the next launcher.
  if (rankText == nullptr) {
    return invalidUsage(std::string(l.size) + " is set but " + l.rank + " is not (" + l.source +
                        " launch)");
  }
  if (sizeText == nullptr) {
    return invalidUsage(std::string(l.rank) + " is set but " + l.size + " is not (" + l.source +
                        " launch)");
  }
  int rank = -1;
  int nranks = -1;
  MRD_TRY(parseInt(l.rank, rankText, &rank));
  MRD_TRY(parseInt(l.size, sizeText, &nranks));
  if (nranks < 1) {
    return invalidUsage(std::string(l.size) + "=" + sizeText + " must be at least 1");
  }
  if (rank < 0 || rank >= nranks) {
    return invalidUsage(std::string(l.rank) + "=" + rankText + " is out of range [0, " +
                        std::to_string(nranks) + ") given " + l.size + "=" + sizeText);
  }
  int localRank = -1;
  int localSize = -1;
  MRD_TRY(readOptionalInt(l.localRank, &localRank));
  MRD_TRY(readOptionalInt(l.localSize, &localSize));
  if (localSize != -1 && (localSize < 1 || localSize > nranks)) {
    return invalidUsage(std::string(l.localSize) + "=" + std::to_string(localSize) +
                        " must be in [1, " + std::to_string(nranks) + "]");
  }
  if (localRank != -1) {
    int limit = localSize != -1 ? localSize : nranks;
    if (localRank < 0 || localRank >= limit) {
      return invalidUsage(std::string(l.localRank) + "=" + std::to_string(localRank) +
                          " is out of range [0, " + std::to_string(limit) + ")");
    }
  }
  out->rank = rank;
  out->nranks = nranks;
  out->localRank = localRank;
  out->localSize = localSize;
  out->source = l.source;
  return Status::ok();
}

// Strips the brackets of "[::1]" so MASTER_ADDR may be written either way.
std::string unbracket(const std::string& host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

Status parsePort(const std::string& text, int* port) {
  if (text.empty() || text.size() > 5 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return invalidUsage("port '" + text + "' is not a number in 1..65535");
  }
  int v = std::atoi(text.c_str());
  if (v < 1 || v > 65535) return invalidUsage("port " + text + " is not in 1..65535");
  *port = v;
  return Status::ok();
}

Status readRendezvous(LaunchInfo* out) {
  if (const char* id = envValue("MRD_UNIQUE_ID")) {
    MRD_TRY(uniqueIdFromString(id, &out->uniqueId).withContext("MRD_UNIQUE_ID"));
    out->haveUniqueId = true;
    return Status::ok();
  }
  if (const char* commId = envValue("MRD_COMM_ID")) {
    return parseHostPort(commId, &out->rootHost, &out->rootPort)
        .withContext(std::string("MRD_COMM_ID=") + commId);
  }
  const char* addr = envValue("MASTER_ADDR");
  const char* port = envValue("MASTER_PORT");
  if (addr != nullptr && port != nullptr) {
    out->rootHost = unbracket(addr);
    if (out->rootHost.empty()) {
      return invalidUsage(std::string("MASTER_ADDR=") + addr + " is empty");
    }
    return parsePort(port, &out->rootPort).withContext(std::string("MASTER_PORT=") + port);
  }
  if (addr != nullptr) return invalidUsage("MASTER_ADDR is set but MASTER_PORT is not");
  if (port != nullptr) return invalidUsage("MASTER_PORT is set but MASTER_ADDR is not");
  return invalidUsage(
      "no rendezvous for the " + out->source +
      " launch: set MRD_UNIQUE_ID (from mrdGetUniqueId, as mrdrun does), MRD_COMM_ID=host:port, "
      "or MASTER_ADDR and MASTER_PORT (the address where rank 0 hosts the bootstrap root)");
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Status readLaunchEnv(LaunchInfo* out) {
  if (out == nullptr) return invalidArgument("readLaunchEnv: out is NULL");
  LaunchInfo info;
  const LauncherVars* found = nullptr;
  for (const LauncherVars& l : kLaunchers) {
    if (isSet(l.rank) || isSet(l.size)) {
      found = &l;
      break;
    }
  }
  if (found == nullptr) {
    return invalidUsage(
        "no launcher environment found: start the processes with mrdrun (MRD_RANK, "
        "MRD_WORLD_SIZE), torchrun (RANK, WORLD_SIZE), Open MPI mpirun (OMPI_COMM_WORLD_RANK, "
        "OMPI_COMM_WORLD_SIZE), MPICH/Hydra (PMI_RANK, PMI_SIZE) or srun (SLURM_PROCID, "
        "SLURM_NTASKS)");
  }
  MRD_TRY(readRankAndSize(*found, &info));
  MRD_TRY(readRendezvous(&info));
  *out = info;
  return Status::ok();
}

std::string uniqueIdToString(const mrdUniqueId& id) {
  static const char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(2 * MRD_UNIQUE_ID_BYTES);
  for (char c : id.internal) {
    auto b = static_cast<unsigned char>(c);
    text.push_back(kDigits[b >> 4]);
    text.push_back(kDigits[b & 0xf]);
  }
  return text;
}

Status uniqueIdFromString(const std::string& text, mrdUniqueId* id) {
  if (id == nullptr) return invalidArgument("uniqueIdFromString: id is NULL");
  constexpr size_t kDigitsWanted = 2 * MRD_UNIQUE_ID_BYTES;
  if (text.size() != kDigitsWanted) {
    return invalidUsage("unique id has " + std::to_string(text.size()) + " characters, expected " +
                        std::to_string(kDigitsWanted) + " hex digits");
  }
  mrdUniqueId parsed{};
  for (size_t i = 0; i < MRD_UNIQUE_ID_BYTES; ++i) {
    int hi = hexDigit(text[2 * i]);
    int lo = hexDigit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      size_t bad = hi < 0 ? 2 * i : 2 * i + 1;
      return invalidUsage("unique id has a non-hex character at position " + std::to_string(bad));
    }
    parsed.internal[i] = static_cast<char>((hi << 4) | lo);
  }
  *id = parsed;
  return Status::ok();
}

Status parseHostPort(const std::string& text, std::string* host, int* port) {
  if (host == nullptr || port == nullptr) {
    return invalidArgument("parseHostPort: host or port is NULL");
  }
  std::string h;
  std::string portText;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return invalidUsage("'" + text + "': missing ']'");
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return invalidUsage("'" + text + "': expected [address]:port");
    }
    h = text.substr(1, close - 1);
    portText = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return invalidUsage("'" + text + "': expected host:port");
    h = text.substr(0, colon);
    // A bare IPv6 address ("::1:5000") cannot be told apart from its port.
    if (h.find(':') != std::string::npos) {
      return invalidUsage("'" + text + "': write IPv6 addresses as [address]:port");
    }
    portText = text.substr(colon + 1);
  }
  if (h.empty()) return invalidUsage("'" + text + "': the host is empty");
  int p = 0;
  MRD_TRY(parsePort(portText, &p).withContext("'" + text + "'"));
  *host = h;
  *port = p;
  return Status::ok();
}

}  // namespace mrd
