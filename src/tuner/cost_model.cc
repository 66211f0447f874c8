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

// Binary tree depth over n ranks (edges from the root to the deepest leaf).
int treeDepth(int n) {
  int d = 0;
  while ((2 << d) <= n) ++d;
  return d;
}

double allreduce(const std::string& algo, double B, int p, const Terms& t, double chunk) {
  const int p2 = floorPow2(p), l2 = ceilLog2(p2);
  const double fold = p2 != p ? 1.0 : 0.0;
  const double part = (p - 1.0) / p;
  if (algo == "direct") return t.a + (p - 1) * B * (t.b * 0.5 + t.g);
  if (algo == "ring") {
    // 2(p-1) steps; each chunk of B/p further cut into slices that overlap.
    double slices = std::max(1.0, std::ceil(B / p / chunk));
    return 2 * (p - 1) * t.a + (slices - 1) * t.a + 2 * part * B * t.b + part * B * t.g;
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
    const int d = treeDepth(p);
    double s = std::min(B / 2, chunk);
    return 2 * d * (t.a + s * t.b) + 2 * B * t.b + 0.5 * B * t.g;
  }
  return -1;
}

double rooted(const std::string& algo, bool reduce, double B, int p, const Terms& t, double chunk) {
  const double s = std::min(B, chunk);
  const double red = reduce ? B * t.g : 0.0;
  if (algo == "chain") return (p - 1) * (t.a + s * t.b) + B * t.b + red;
  if (algo == "tree") return treeDepth(p) * (t.a + s * t.b) + 2 * B * t.b + red;
  return -1;
}

}  // namespace

double predictUs(const std::string& algo, const CostQuery& q, const MachineModel& m) {
  const int p = std::max(1, q.nranks);
  const LinkModel& link = q.nhosts > 1 ? m.inter : m.intra;
  const Terms t{link.alphaUs, link.betaUsPerByte, m.gammaUsPerByte, m.copyUsPerByte};
  const double B = static_cast<double>(q.bytes);
  const double chunk = static_cast<double>(std::max<size_t>(q.chunkBytes, 1));
  if (p == 1) return B * t.c;  // a local copy whatever the algorithm
  const int l = ceilLog2(p), p2 = floorPow2(p), l2 = ceilLog2(p2);
  const double fold = p2 != p ? 1.0 : 0.0;
  const double part = (p - 1.0) / p;
  // Posting p-1 messages at once costs less than p-1 latencies.
  const double overlap = 0.3 * t.a;
  switch (q.kind) {
    case CollKind::kAllReduce:
    case CollKind::kBarrier:
      return allreduce(algo, B, p, t, chunk);
    case CollKind::kBroadcast:
      return rooted(algo, false, B, p, t, chunk);
    case CollKind::kReduce:
      return rooted(algo, true, B, p, t, chunk);
    case CollKind::kAllGather:
      if (algo == "ring") return (p - 1) * t.a + part * B * t.b;
      if (algo == "recursive_doubling") return l2 * t.a + part * B * t.b + fold * (2 * t.a + B * t.b);
      if (algo == "bruck") return l * t.a + part * B * t.b + B * t.c;
      return -1;
    case CollKind::kReduceScatter:
      if (algo == "ring") return (p - 1) * t.a + part * B * (t.b + t.g);
      if (algo == "rabenseifner") {
        return l2 * t.a + part * B * (t.b + t.g) + fold * (t.a + B * t.b + B * t.g);
      }
      return -1;
    case CollKind::kAlltoAll:
      if (algo == "pairwise") return t.a + (p - 1) * overlap + part * B * t.b;
      if (algo == "bruck") return l * (t.a + B / 2 * (t.b + t.c)) + 2 * B * t.c;
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
