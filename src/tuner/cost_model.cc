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
  if (algo == "direct") {
    // One round, but every rank takes in p-1 messages and reduces them all:
    // each arrival costs half a latency (fitted to algo_sweep: at 8 B direct
    // took 1.14-1.29x recursive doubling's time on 4 ranks, 0.84x on 8,
    // whose 2 and 3 rounds cost 2 and 6 alpha with roundFactor 1 and 2).
    return t.a * (1 + (p - 1) / 2.0) + (p - 1) * B * (t.b + t.g);
  }
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

// The hierarchical algorithm (algorithms/hierarchical): phases inside
// hosts on the intra link and phases across hosts on the inter link,
// chained slice by slice. Rails when every host runs the same L ranks
// (nranks == nhosts * maxLocal), one leader per host otherwise. The ranks
// of a host share its network link, so inter-host bytes count per host.
// Phases on different links overlap: the slower counts in full, the other
// half (the pipeline fills and drains, and both load the memory system).
// bwFactor: as bandwidthFactor below; cpu: every byte term's factor for
// ranks sharing cores (MachineModel::roundFactor).
double hierarchical(const CostQuery& q, const MachineModel& m, double chunk, double bwFactor, double cpu) {
  const int H = q.nhosts, L = q.maxLocal, p = q.nranks;
  if (H < 2 || L < 2) return -1;
  const bool rails = p == H * L;
  // Streaming phases move data faster than the ping-pong that measured beta.
  const LinkModel in{m.intra.alphaUs, m.intra.betaUsPerByte * bwFactor * cpu};
  const LinkModel ex{m.inter.alphaUs, m.inter.betaUsPerByte * bwFactor * cpu};
  const double B = static_cast<double>(q.bytes), g = m.gammaUsPerByte * cpu, copy = m.copyUsPerByte * cpu;
  const double hp = (H - 1.0) / H, lp = (L - 1.0) / L, spread = (L - 1.0) / p;
  auto overlap = [](double x, double y) { return std::max(x, y) + 0.5 * std::min(x, y); };
  const double fill = (slices(B / p, chunk) - 1) * ex.alphaUs;
  switch (q.kind) {
    case CollKind::kAllReduce:
    case CollKind::kBarrier: {
      const double lat = 2 * (L - 1) * in.alphaUs + 2 * (H - 1) * ex.alphaUs + fill;
      if (rails) {
        return lat + overlap(2 * lp * B * in.betaUsPerByte, 2 * hp * B * ex.betaUsPerByte) +
               (lp + hp / L) * B * g;
      }
      // Line reduce and line broadcast: every intra link carries B each way.
      return lat + overlap(2 * B * in.betaUsPerByte, 2 * hp * B * ex.betaUsPerByte) +
             (1 + hp) * B * g;
    }
    case CollKind::kBroadcast: {
      const double s = std::min(B, chunk);
      return (H - 1) * (ex.alphaUs + s * ex.betaUsPerByte) + (L - 1) * (in.alphaUs + s * in.betaUsPerByte) +
             (slices(B, chunk) - 1) * ex.alphaUs + overlap(B * in.betaUsPerByte, B * ex.betaUsPerByte);
    }
    case CollKind::kAllGather:
      if (rails) {
        return (L - 1) * in.alphaUs + (H - 1) * ex.alphaUs +
               overlap(lp * B * in.betaUsPerByte, hp * B * ex.betaUsPerByte);
      }
      // Gather at the leader, then a line broadcast of (nearly) everything.
      return L * in.alphaUs + (H - 1) * ex.alphaUs +
             overlap((1 + spread) * B * in.betaUsPerByte, hp * B * ex.betaUsPerByte);
    case CollKind::kReduceScatter:
      if (rails) {
        return (L - 1) * in.alphaUs + (H - 1) * ex.alphaUs +
               overlap(lp * B * in.betaUsPerByte, hp * B * ex.betaUsPerByte) + (lp + hp / L) * B * g;
      }
      return L * in.alphaUs + (H - 1) * ex.alphaUs +
             overlap((1 + spread) * B * in.betaUsPerByte, hp * B * ex.betaUsPerByte) + (1 + hp) * B * g;
    case CollKind::kAlltoAll:
      // Gather at the leader, one message per other host, scatter; the
      // leader packs and unpacks its host's share.
      return 2 * in.alphaUs + 2 * (L - 1) * 0.3 * in.alphaUs + ex.alphaUs +
             (H - 2) * 0.3 * ex.alphaUs + 2 * (L - 1) * B * in.betaUsPerByte +
             L * hp * B * ex.betaUsPerByte + 2 * L * B * copy;
    default:
      return -1;
  }
}

}  // namespace

// How much faster than the measured ping-pong each algorithm moves its
// bytes. The calibration times single 256 KiB messages, store and forward;
// algorithms that keep several slices or messages in flight overlap the
// sender's and the receiver's copies and do better. Fitted from
// benchmarks/algo_sweep (4 ranks on one 2-core host, 128 KiB - 32 MiB,
// measured time over the formula's time with factor 1); a tuner plug-in
// can correct them for other machines. The store-and-forward algorithms
// do better while their buffers stay in cache (below 2 MiB here; up to 2
// MiB for Rabenseifner's reduce-scatter).
double bandwidthFactor(const std::string& algo, CollKind kind, double bytes) {
  const bool allreduce = kind == CollKind::kAllReduce || kind == CollKind::kBarrier;
  const bool inCache = bytes < double(2 << 20);
  if (algo == "ring" || algo == "hierarchical") return 0.55;
  if (algo == "tree") return allreduce ? 0.33 : 0.41;
  if (algo == "chain") return 0.42;
  if (algo == "rabenseifner") {
    if (allreduce) return inCache ? 0.45 : 0.58;
    // Reduce-scatter halves what it touches every round: 2 MiB still fits.
    return bytes <= double(2 << 20) ? 0.5 : 0.80;
  }
  if (algo == "recursive_doubling") return allreduce ? 0.66 : (inCache ? 0.5 : 0.58);
  if (algo == "bruck") return kind == CollKind::kAlltoAll ? 0.97 : 0.65;
  if (algo == "direct") return 0.8;
  return 0.66;  // pairwise, linear: several messages in flight at once
}

double predictUs(const std::string& algo, const CostQuery& q, const MachineModel& m) {
  const int p = std::max(1, q.nranks);
  const LinkModel& link = q.nhosts > 1 ? m.inter : m.intra;
  const bool hopping = algo == "recursive_doubling" || algo == "rabenseifner" ||
                       algo == "tree" || algo == "bruck";
  // Across hosts the network is the bottleneck: the overlap that the
  // bandwidth factors describe for shared memory does not apply, and in a
  // flat algorithm the ranks of one host send across hosts at the same
  // time, sharing its link (except in a ring, where one hop per host
  // leaves it). Direct then pays a socket round trip per peer.
  const bool multiHost = q.nhosts > 1;
  const double share = multiHost && algo != "ring" ? std::max(1, q.maxLocal) : 1.0;
  const double factor =
      multiHost ? share : bandwidthFactor(algo, q.kind, static_cast<double>(q.bytes));
  // A round with a new partner waits for it to be scheduled (direct's one
  // round is in its latency term); and every rank's copies, reductions and
  // socket work share the host's cores: every byte term, on either link.
  const double alpha = link.alphaUs * (hopping ? m.roundFactor : 1.0);
  const double cpu = m.roundFactor;
  if (multiHost && algo == "direct" &&
      (q.kind == CollKind::kAllReduce || q.kind == CollKind::kBarrier)) {
    return alpha * (p - 1) +
           (p - 1) * static_cast<double>(q.bytes) * (link.betaUsPerByte * share + m.gammaUsPerByte) * cpu;
  }
  const Terms t{alpha, link.betaUsPerByte * factor * cpu, m.gammaUsPerByte * cpu, m.copyUsPerByte * cpu};
  const double B = static_cast<double>(q.bytes);
  const double chunk = static_cast<double>(std::max<size_t>(q.chunkBytes, 1));
  const double channelMin = static_cast<double>(q.channelMinBytes);
  const double block = B / p;
  if (p == 1) return B * t.c;  // a local copy whatever the algorithm
  if (algo == "board") {
    // One round through shared memory (core/local_board.h): every rank
    // writes its input once and reads all p. Fitted to all_reduce_perf
    // forced to each algorithm on one 2-core host (8 B, first version of
    // the board: 0.6, 3.8-4.1 and 13-17 us at 2, 4 and 8 ranks, where
    // direct, priced alpha x (1 + (p-1)/2), took 1.2, 7.9-9.6 and 26-28;
    // README.md has the figures of the present code): a quarter of a latency per
    // rank (the more ranks, the more of them wait for a core on this
    // machine; the calibrated latency carries the rest); then the bytes.
    if (multiHost) return -1;
    // Reductions read and combine every rank's whole input (p B); the
    // others copy a block of each, or the root's input (B in all). And
    // each rank writes its input: B/p for an allgather, B otherwise.
    const bool reducing = q.kind == CollKind::kAllReduce || q.kind == CollKind::kReduce ||
                          q.kind == CollKind::kReduceScatter;
    const double written = q.kind == CollKind::kAllGather ? B / p : B;
    const double moved = q.kind == CollKind::kReduceScatter ? B : (reducing ? p * B : B);
    return link.alphaUs * (0.25 + p / 4.0) + (written + moved) * t.c + (reducing ? moved * t.g : 0.0);
  }
  if (algo == "hierarchical") {
    return hierarchical(q, m, chunk, bandwidthFactor(algo, q.kind, B), cpu);
  }
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
