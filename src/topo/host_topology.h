// The hardware of this host as Meridian cares about it: NUMA nodes, cores,
// network interfaces and where memory lives. Discovered with hwloc; when
// hwloc fails in any way (load error, API mismatch) discovery falls back to
// sysconf, /sys and getifaddrs and logs one WARN: it never fails the
// communicator.
//
// NUMA node numbers are the operating system's (as in numactl and
// /sys/devices/system/node/nodeN), everywhere in this file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace mrd::topo {

struct Nic {
  std::string name;       // interface name, e.g. "eth0"
  std::string ipv4;       // first IPv4 address, dotted; empty if none
  int numaNode = -1;      // NUMA node of the device; -1 unknown (lo, veths, ...)
  uint64_t speedMbps = 0; // /sys/class/net/<if>/speed when readable and positive, else 0
  bool up = false;        // IFF_UP and IFF_RUNNING
  bool loopback = false;  // IFF_LOOPBACK
  // veth/docker/bridge-looking: no /sys/class/net/<if>/device, or the name
  // starts with veth, docker or br-.
  bool virtualIf = false;
};

struct HostTopology {
  std::string hostname;
  int numaNodes = 1;
  // Cores and hardware threads the process's cgroup allows (hwloc), or the
  // online CPUs (fallback, which counts every PU as a core).
  int cores = 1;
  int pus = 1;
  std::vector<Nic> nics;   // ordered by interface index
  int myNumaNode = -1;     // NUMA node of the calling thread's CPU at discovery; -1 unknown
  bool fromHwloc = false;  // false: the sysconf/getifaddrs fallback filled this in
};

// Discovers the host now (tens of milliseconds the first time: hwloc's
// topology is loaded once per process and kept; later calls reuse it but
// re-read interfaces and the current CPU).
HostTopology discoverHostTopology();

// discoverHostTopology() run once per process and kept; thread-safe. Its
// myNumaNode is that of the thread that got there first: use
// currentNumaNode() for the calling thread.
const HostTopology& processHostTopology();

// NUMA node of the CPU the calling thread runs on right now; -1 unknown.
int currentNumaNode();

// NUMA node holding the page that contains p; -1 if unknown (untouched page,
// the kernel refused the query, p null).
int numaNodeOfAddress(void* p);

// Binds the pages of [p, p + bytes) to NUMA node `node` and migrates those
// already touched (hwloc_set_area_membind, BIND with MIGRATE). The range is
// widened to whole pages. Success without doing anything when the host has a
// single NUMA node, when bytes is 0 or when node is -1 (owner unknown). A
// node that does not exist is invalidArgument; the kernel refusing (e.g.
// seccomp in containers) is systemError. Callers should treat failure as a
// lost optimisation, not as fatal.
Status bindToNumaNode(void* p, size_t bytes, int node);

namespace detail {
// The fallback path alone (no hwloc), for tests.
HostTopology discoverWithoutHwloc();
}  // namespace detail

}  // namespace mrd::topo
