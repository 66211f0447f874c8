// Topology of this host and of the job: the layout of ranks over hosts
// (job_layout.h), the local hardware (host_topology.h), and how both are
// printed and dumped (below).
//
// Intended call site: communicator init, once bootstrap has the rank table:
//
//   topo::JobLayout layout = topo::buildJobLayout(
//       nranks, [&](int a, int b) { return bootstrap->sameHost(a, b); });
//   const topo::HostTopology& host = topo::processHostTopology();  // once per process
//   if (layout.localRank[rank] == 0)                 // rank 0 of each host
//     for each line of topo::describe(host, layout): MRD_LOG_INFO(kInit, "{}", line);
//   const auto& p = config::processParams();
//   if (!p.topoDumpFile.empty()) {                   // MRD_TOPO_DUMP_FILE
//     Status s = topo::dumpTopology(p.topoDumpFile, host, layout, rank);
//     if (!s) MRD_LOG_WARN(kInit, "{}", s.message());  // never fatal
//   }
//
// Nothing here blocks or talks to other ranks.
#pragma once

#include <string>

#include "core/status.h"
#include "topo/host_topology.h"
#include "topo/job_layout.h"

namespace mrd::topo {

// A few lines, '\n'-separated, no trailing newline: the host's NUMA nodes,
// cores, PUs and NICs, and the job's ranks per host. For MRD_DEBUG=INFO.
std::string describe(const HostTopology& host, const JobLayout& layout);

// One JSON object: rank, hostname, numa_nodes, cores, pus, my_numa_node,
// source ("hwloc" or "fallback"), nics [{name, ipv4, numa_node, speed_mbps,
// up, loopback, virtual}], job {nranks, nhosts, host_of[], local_rank[],
// ranks_of_host[[]]}.
std::string toJson(const HostTopology& host, const JobLayout& layout, int rank);

// Writes toJson(host, layout, rank) and a newline to pathPattern, in which
// %h becomes the host name and %p the pid (as in MRD_DEBUG_FILE), and %r the
// rank (several ranks may share a process). Replaces an existing file. The
// expanded path is stored in *writtenPath when given. An unwritable path is
// a systemError naming it, never a crash.
Status dumpTopology(const std::string& pathPattern, const HostTopology& host,
                    const JobLayout& layout, int rank, std::string* writtenPath = nullptr);

}  // namespace mrd::topo
