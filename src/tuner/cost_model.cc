// Cost formulas, in the usual alpha-beta-gamma form (Thakur, Rabenseifner
// and Gropp, "Optimization of collective communication operations in
// MPICH", 2005), with pipelining terms for the chunked algorithms.
#include "tuner/cost_model.h"

#include <algorithm>
#include <cmath>

namespace mrd::tuner {
namespace {

int ceilLog2(int n) {
  int l = 0;
  while ((1 << l) < n) ++l;
  return l;
}

int floorPow2(int n) {
  int p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

struct Terms {
  double a, b, g, c;  // alpha (us), beta, gamma, copy (us/byte)
};

int floorLog2(int n) {
  int l = 0;
  while ((2 << l) <= n) ++l;
  return l;
}

// Pipelined algorithms: `depth` hops, the message cut into slices of at
// most `chunk` bytes; every slice pays a latency, the first slice pays the
// fill of the pipeline.
double slices(double bytes, double chunk) { return std::max(1.0, std::ceil(bytes / chunk)); }

double allreduce(const std::string& algo, double B, int p, const Terms& t, double chunk,
                 double channelMin) {
  const int p2 = floorPow2(p), l2 = ceilLog2(p2);
  const double fold = p2 != p ? 1.0 : 0.0;
  const double part = (p - 1.0) / p;
  if (algo == "direct") return t.a + (p - 1) * B * (t.b * 0.5 + t.g);
  if (algo == "ring") {
    // 2(p-1) steps on chunks of B/p, each cut into slices that overlap.
    double ns = slices(B / p, chunk);
    return (2 * (p - 1) + ns - 1) * t.a + 2 * part * B * t.b + part * B * t.g;
  }
  if (algo == "recursive_doubling") {
    return l2 * (t.a + B * t.b + B * t.g) + fold * (2 * t.a + 2 * B * t.b + B * t.g);
  }
  if (algo == "rabenseifner") {
    double part2 = (p2 - 1.0) / p2;
    return 2 * l2 * t.a + 2 * part2 * B * t.b + part2 * B * t.g +
           fold * (2 * t.a + 2 * B * t.b + B * t.g);
  }
  if (algo == "tree") {
    // Two trees on half the data each (one below 2 x channelMin): the
    // busiest rank sends 2B (3B with one tree) and reduces B (2B).
    const bool two = B >= 2 * channelMin;
    const double D = two ? B / 2 : B;
    const int h = floorLog2(p);
    const double ns = slices(D, chunk), s = std::min(D, chunk);
    return (2 * h + ns - 1) * t.a + 2 * h * s * t.b + (two ? 2 : 3) * B * t.b +
           (two ? 1 : 2) * B * t.g;
  }
  return -1;
}

double rooted(const std::string& algo, bool reduce, double B, int p, const Terms& t,
              double chunk, double channelMin) {
  if (algo == "chain") {
    const double ns = slices(B, chunk), s = std::min(B, chunk);
    return (p - 1 + ns - 1) * t.a + (p - 2) * s * t.b + B * t.b + (reduce ? B * t.g : 0.0);
  }
  if (algo == "tree") {
    const bool two = B >= 2 * channelMin;
    const double D = two ? B / 2 : B;
    const int d = 1 + floorLog2(std::max(1, p - 1));
    const double ns = slices(D, chunk), s = std::min(D, chunk);
    return (d + ns - 1) * t.a + (d - 1) * s * t.b + (two ? 1 : 2) * B * t.b +
           (reduce ? (two ? 1 : 2) * B * t.g : 0.0);
  }
  return -1;
}

// Blocks Bruck's alltoall sends in all: the sum over i < n of popcount(i).
double bruckBlocks(int n) {
  double total = 0;
  for (int i = 0; i < n; ++i) total += __builtin_popcount(static_cast<unsigned>(i));
  return total;
}

}  // namespace

double predictUs(const std::string& algo, const CostQuery& q, const MachineModel& m) {
  const int p = std::max(1, q.nranks);
  const LinkModel& link = q.nhosts > 1 ? m.inter : m.intra;
  const Terms t{link.alphaUs, link.betaUsPerByte, m.gammaUsPerByte, m.copyUsPerByte};
  const double B = static_cast<double>(q.bytes);
  const double chunk = static_cast<double>(std::max<size_t>(q.chunkBytes, 1));
  const double channelMin = static_cast<double>(q.channelMinBytes);
  const double block = B / p;
  if (p == 1) return B * t.c;  // a local copy whatever the algorithm
  const int l = ceilLog2(p), p2 = floorPow2(p), l2 = ceilLog2(p2);
  const double fold = p2 != p ? 1.0 : 0.0;
  const double part = (p - 1.0) / p;
  // Posting p-1 messages at once costs less than p-1 latencies.
  const double overlap = 0.3 * t.a;
  switch (q.kind) {
    case CollKind::kAllReduce:
    case CollKind::kBarrier:
      return allreduce(algo, B, p, t, chunk, channelMin);
    case CollKind::kBroadcast:
      return rooted(algo, false, B, p, t, chunk, channelMin);
    case CollKind::kReduce:
      return rooted(algo, true, B, p, t, chunk, channelMin);
    case CollKind::kAllGather:
      if (algo == "ring") return (p - 1) * t.a + part * B * t.b;
      if (algo == "recursive_doubling") {
        return l2 * t.a + part * B * t.b + fold * (2 * t.a + block * t.b + B * t.b);
      }
      if (algo == "bruck") return l * t.a + part * B * t.b + B * t.c;
      return -1;
    case CollKind::kReduceScatter:
      if (algo == "ring") return (p - 1) * t.a + part * B * (t.b + t.g);
      if (algo == "rabenseifner") {
        return l2 * t.a + part * B * (t.b + t.g) + fold * (2 * t.a + B * (t.b + t.g) + block * t.b);
      }
      return -1;
    case CollKind::kAlltoAll:
      if (algo == "pairwise") return t.a + (p - 1) * overlap + part * B * t.b;
      if (algo == "bruck") {
        return l * t.a + bruckBlocks(p) * block * (t.b + t.c) + ((1 << (l - 1)) + 1) * block * t.c;
      }
      return -1;
    case CollKind::kAlltoAllv:
      if (algo == "pairwise") return t.a + (p - 1) * overlap + part * B * t.b;
      return -1;
    case CollKind::kGather:
    case CollKind::kScatter:
      if (algo == "linear") return t.a + (p - 1) * overlap + part * B * t.b;
      return -1;
    case CollKind::kSend:
    case CollKind::kRecv:
      if (algo == "pairwise") return t.a + B * t.b;
      return -1;
  }
  return -1;
}

}  // namespace mrd::tuner
