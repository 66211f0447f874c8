// The "hierarchical" algorithm: collectives that know which ranks share a
// host (PlanContext::layout) and keep most traffic inside hosts, where it is
// cheap, crossing hosts once per host (or once per rail) instead of at
// every hop of a flat ring.
//
// Uniform layouts (L ranks on every host) are rail-aligned: local rank i of
// every host forms rail i, and the inter-host part of the work is split
// across the L rails. Other layouts go through one leader per host (its
// lowest rank). Phases are chained slice by slice (common/group_steps.h),
// so the intra-host and inter-host phases overlap.
//
//   allreduce       rails: reduce-scatter in the host, allreduce (ring RS +
//                   AG) across hosts on each rail's share, allgather in the
//                   host. Leaders: line reduce to the leader, ring
//                   allreduce among leaders, line broadcast in the host.
//   allgather       rails: ring allgather across hosts on each rail, then a
//                   ring allgather in the host of what each rail gathered.
//                   Leaders: gather at the leader, ring allgather of whole
//                   hosts among leaders, line broadcast in the host.
//   reducescatter   rails: ring reduce-scatter in the host of the blocks of
//                   each rail, then ring reduce-scatter across hosts on the
//                   rail. Leaders: line reduce to the leader, ring reduce-
//                   scatter of whole hosts among leaders, scatter in the host.
//   broadcast       the root, then one rank per host (the lowest) form a
//                   pipelined line across hosts; each feeds a line through
//                   its host.
//   alltoall        small blocks: each host's blocks are gathered at its
//                   leader, leaders exchange one message per host pair, and
//                   scatter what they received.
//
// Every result of a reduction is computed by one rank and copied to the
// others, so all ranks end with the same bits.
#pragma once

#include <vector>

#include "core/algorithm.h"

namespace mrd::algo {

// This rank's place in the job layout.
struct HostView {
  explicit HostView(const PlanContext& ctx);
  const topo::JobLayout& layout;
  int rank, host, local, nhosts;
  const std::vector<int>& localRanks() const {
    return layout.ranksOfHost[static_cast<size_t>(host)];
  }
  const std::vector<int>& ranksOf(int h) const { return layout.ranksOfHost[static_cast<size_t>(h)]; }
  // The rank with local index i on each host, by host.
  std::vector<int> rail(int i) const;
  // Each host's lowest rank, by host.
  std::vector<int> leaders() const;
  // Host indices h-1, h-2, ..., h (the order a ring reduce-scatter over the
  // hosts consumes its blocks on host h), or h, h-1, ..., h+1 (the order a
  // ring allgather produces them).
  std::vector<int> rsOrder() const;
  std::vector<int> agOrder() const;
};

Status buildHierAllReduce(const CollRequest& req, const PlanContext& ctx, Schedule* out);
Status buildHierAllGather(const CollRequest& req, const PlanContext& ctx, Schedule* out);
Status buildHierReduceScatter(const CollRequest& req, const PlanContext& ctx, Schedule* out);
Status buildHierBroadcast(const CollRequest& req, const PlanContext& ctx, Schedule* out);
Status buildHierAlltoAll(const CollRequest& req, const PlanContext& ctx, Schedule* out);

// Largest alltoall block (bytes per rank pair) the hierarchical alltoall takes.
constexpr size_t kHierAlltoAllMaxBlock = 4 << 10;

std::unique_ptr<Algorithm> makeHierarchicalAlgorithm();

}  // namespace mrd::algo
