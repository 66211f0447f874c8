// Where a process learns its rank, the job size and the rendezvous when it
// was started by a launcher: mrdrun (MRD_*), torchrun, Open MPI, Hydra
// (MPICH) or Slurm. Read by mrdCommInitFromEnv; mrdrun writes the MRD_* set.
#pragma once

#include <string>

#include "core/status.h"
#include "meridian/meridian.h"

namespace mrd {

struct LaunchInfo {
  int rank = -1;
  int nranks = -1;
  int localRank = -1;  // -1 when the launcher does not say
  int localSize = -1;
  bool haveUniqueId = false;  // MRD_UNIQUE_ID was set
  mrdUniqueId uniqueId{};
  // Without a unique id, rank 0 hosts the bootstrap root here
  // (MRD_COMM_ID=host:port wins over MASTER_ADDR/MASTER_PORT).
  std::string rootHost;
  int rootPort = 0;
  std::string source;  // "mrdrun", "torchrun", "openmpi", "hydra", "slurm"
};

// Fills *out from the process environment. Errors (mrdInvalidUsage) say which
// variable is missing or malformed, e.g. "RANK=abc is not an integer".
Status readLaunchEnv(LaunchInfo* out);

// MRD_UNIQUE_ID's text form: the 128 id bytes as 256 lowercase hex digits.
std::string uniqueIdToString(const mrdUniqueId& id);
Status uniqueIdFromString(const std::string& text, mrdUniqueId* id);

// Splits "host:port" (or "[v6addr]:port"); the port must be 1..65535.
Status parseHostPort(const std::string& text, std::string* host, int* port);

}  // namespace mrd
