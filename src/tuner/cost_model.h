// The tuner's cost model: predicted time of one operation for each
// algorithm, from the measured latency (alpha) and inverse bandwidth (beta)
// of the links the algorithm crosses, the local reduction cost (gamma), the
// number of ranks and hosts, and the message size. A pure function of its
// inputs: every rank computes the same numbers from the same (allgathered)
// measurements, which is what makes every rank choose the same algorithm.
#pragma once

#include <cstddef>
#include <string>

#include "core/coll_request.h"

namespace mrd::tuner {

struct LinkModel {
  double alphaUs = 10.0;            // one small message, one way
  double betaUsPerByte = 1.0 / 2e3;  // 2 GB/s
};

struct MachineModel {
  LinkModel intra;                   // ranks of one host (shm)
  LinkModel inter;                   // ranks of different hosts (network)
  double gammaUsPerByte = 1.0 / 8e3;  // local reduction, 8 GB/s
  double copyUsPerByte = 1.0 / 16e3;  // local copy, 16 GB/s
  // With more ranks than cores on a host, a round whose partner changes
  // (recursive doubling, trees, Bruck) waits for that partner to be
  // scheduled: alpha times this; and the ranks' copies and reductions
  // share the cores: every byte term times this too. max(1, ranks per
  // core / 2): the bandwidth factors were fitted at 2 ranks per core.
  double roundFactor = 1.0;
};

struct CostQuery {
  CollKind kind = CollKind::kAllReduce;
  // nccl-tests' "size": the full vector for allreduce, broadcast, reduce;
  // the whole receive buffer for allgather, gather; the whole send buffer
  // for reducescatter, alltoall, scatter; the message for send/recv.
  size_t bytes = 0;
  int nranks = 1;
  int nhosts = 1;
  int maxLocal = 1;        // most ranks on one host
  size_t chunkBytes = 128 << 10;  // pipelining unit in force
  size_t channelMinBytes = 64 << 10;  // below 2x this, tree uses one tree
};

// Predicted microseconds; a negative value means "no model for this
// (algorithm, collective)" and the algorithm is ranked last.
double predictUs(const std::string& algo, const CostQuery& q, const MachineModel& m);

}  // namespace mrd::tuner
