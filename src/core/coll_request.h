// One operation as the C API received it, validated: what the planner hands
// to an algorithm. Counts are in elements.
#pragma once

#include <cstddef>
#include <vector>

#include "core/reduce.h"
#include "meridian/meridian.h"

namespace mrd {

enum class CollKind {
  kAllReduce,
  kBroadcast,
  kReduce,
  kAllGather,
  kReduceScatter,
  kAlltoAll,
  kAlltoAllv,
  kGather,
  kScatter,
  kSend,
  kRecv,
  kBarrier,
};

const char* collName(CollKind k);

// How an op combines: the kernel, plus what happens before and after.
struct ReduceSpec {
  RedKind kind = RedKind::kSum;
  bool average = false;       // divide by nranks at the end
  bool preMultiply = false;   // scale every input by `scalar` first
  double scalar = 1.0;
};

struct CollRequest {
  CollKind kind = CollKind::kAllReduce;
  const void* sendbuf = nullptr;
  void* recvbuf = nullptr;
  size_t count = 0;  // see the public header for each operation's meaning
  mrdDataType_t type = mrdFloat32;
  ReduceSpec reduce;
  int root = 0;  // broadcast/reduce/gather/scatter root; send/recv peer
  // AlltoAllv, one entry per rank.
  std::vector<size_t> sendcounts, sdispls, recvcounts, rdispls;
};

}  // namespace mrd
