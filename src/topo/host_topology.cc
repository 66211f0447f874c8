#include "topo/host_topology.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <hwloc.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <tuple>

#include "log/log.h"

namespace mrd::topo {
namespace {

// hwloc's view of the machine, loaded once per process and never freed
// (buffers may be queried until exit). topo null: hwloc is unusable and the
// fallbacks are in use; the reason was logged once at WARN.
struct Hwloc {
  hwloc_topology_t topo = nullptr;
};

Hwloc loadHwloc() {
  Hwloc h;
  std::string err;
  unsigned runtime = hwloc_get_api_version();
  hwloc_topology_t t = nullptr;
  if ((runtime >> 16) != (static_cast<unsigned>(HWLOC_API_VERSION) >> 16)) {
    err = fmt::format("hwloc API {:#x} at run time, built against {:#x}", runtime,
                      static_cast<unsigned>(HWLOC_API_VERSION));
  } else if (hwloc_topology_init(&t) != 0) {
    err = errnoText("hwloc_topology_init", errno);
  } else {
    // Network OS devices (and the PCI devices they hang from); not fatal if refused.
    (void)hwloc_topology_set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    if (hwloc_topology_load(t) != 0) {
      err = errnoText("hwloc_topology_load", errno);
      hwloc_topology_destroy(t);
    } else {
      h.topo = t;
    }
  }
  if (!err.empty()) {
    MRD_LOG_WARN(kInit, "topology: {}; using sysconf, /sys and getifaddrs instead", err);
  }
  return h;
}

const Hwloc& hwloc() {
  static const Hwloc h = loadHwloc();
  return h;
}

size_t pageSize() {
  long p = sysconf(_SC_PAGESIZE);
  return p > 0 ? static_cast<size_t>(p) : 4096;
}

bool pathExists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

// First line of a small /sys file; empty if unreadable (reading some
// attributes, e.g. speed of a down link, fails with EINVAL).
std::string readSysLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return {};
  return line;
}

bool parseInt(const std::string& s, int base, long long* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, base);
  if (errno != 0 || end == s.c_str()) return false;
  *out = v;
  return true;
}

// Node directories under /sys/devices/system/node; 0 when there is no such directory.
int countSysNumaNodes() {
  DIR* d = opendir("/sys/devices/system/node");
  if (d == nullptr) return 0;
  int n = 0;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 4 && name.compare(0, 4, "node") == 0 &&
        name.find_first_not_of("0123456789", 4) == std::string::npos) {
      ++n;
    }
  }
  closedir(d);
  return n;
}

bool hasPrefix(const std::string& s, const char* prefix) {
  return s.compare(0, std::char_traits<char>::length(prefix), prefix) == 0;
}

struct IfInfo {
  std::string ipv4;
  unsigned flags = 0;
  bool flagsKnown = false;
};

// Every interface of this network namespace (lo and veths included), from
// getifaddrs, or from /sys/class/net if that fails.
std::map<std::string, IfInfo> listInterfaces() {
  std::map<std::string, IfInfo> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
      if (a->ifa_name == nullptr) continue;
      IfInfo& info = out[a->ifa_name];
      info.flags = a->ifa_flags;
      info.flagsKnown = true;
      if (a->ifa_addr != nullptr && a->ifa_addr->sa_family == AF_INET && info.ipv4.empty()) {
        char buf[INET_ADDRSTRLEN] = {0};
        const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
        if (inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)) != nullptr) info.ipv4 = buf;
      }
    }
    freeifaddrs(list);
  } else if (DIR* d = opendir("/sys/class/net")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') out[e->d_name];
    }
    closedir(d);
  }
  return out;
}

// Network OS devices hwloc found, name -> NUMA node (-1 unknown).
std::map<std::string, int> hwlocNics(hwloc_topology_t topo) {
  std::map<std::string, int> out;
  for (hwloc_obj_t o = hwloc_get_next_osdev(topo, nullptr); o != nullptr;
       o = hwloc_get_next_osdev(topo, o)) {
    if (o->attr == nullptr || o->attr->osdev.type != HWLOC_OBJ_OSDEV_NETWORK || o->name == nullptr)
      continue;
    int node = -1;
    hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(topo, o);
    if (anc != nullptr && anc->nodeset != nullptr && hwloc_bitmap_weight(anc->nodeset) == 1) {
      node = hwloc_bitmap_first(anc->nodeset);
    }
    out[o->name] = node;
  }
  return out;
}

Nic describeNic(const std::string& name, const IfInfo* info, const std::map<std::string, int>& hw) {
  Nic n;
  n.name = name;
  const std::string sys = "/sys/class/net/" + name;
  unsigned flags = 0;
  long long v = 0;
  if (info != nullptr && info->flagsKnown) {
    flags = info->flags;
  } else if (parseInt(readSysLine(sys + "/flags"), 16, &v)) {
    flags = static_cast<unsigned>(v);
  }
  if (info != nullptr) n.ipv4 = info->ipv4;
  n.up = (flags & IFF_UP) != 0 && (flags & IFF_RUNNING) != 0;
  n.loopback = (flags & IFF_LOOPBACK) != 0;
  n.virtualIf = !pathExists(sys + "/device") || hasPrefix(name, "veth") ||
                hasPrefix(name, "docker") || hasPrefix(name, "br-");
  if (parseInt(readSysLine(sys + "/speed"), 10, &v) && v > 0) n.speedMbps = static_cast<uint64_t>(v);
  auto it = hw.find(name);
  if (it != hw.end()) n.numaNode = it->second;
  if (n.numaNode < 0 && parseInt(readSysLine(sys + "/device/numa_node"), 10, &v) && v >= 0) {
    n.numaNode = static_cast<int>(v);
  }
  return n;
}

// The interfaces of this namespace plus any only hwloc saw, by interface
// index (those without one, e.g. outside this namespace, last by name).
std::vector<Nic> discoverNics(hwloc_topology_t topo) {
  std::map<std::string, IfInfo> ifs = listInterfaces();
  std::map<std::string, int> hw;
  if (topo != nullptr) hw = hwlocNics(topo);
  std::vector<std::tuple<unsigned, std::string>> order;
  for (const auto& kv : ifs) order.emplace_back(if_nametoindex(kv.first.c_str()), kv.first);
  for (const auto& kv : hw) {
    if (ifs.count(kv.first) == 0) order.emplace_back(if_nametoindex(kv.first.c_str()), kv.first);
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    unsigned ia = std::get<0>(a) == 0 ? ~0u : std::get<0>(a);
    unsigned ib = std::get<0>(b) == 0 ? ~0u : std::get<0>(b);
    return std::tie(ia, std::get<1>(a)) < std::tie(ib, std::get<1>(b));
  });
  std::vector<Nic> nics;
  for (const auto& o : order) {
    const std::string& name = std::get<1>(o);
    auto it = ifs.find(name);
    nics.push_back(describeNic(name, it == ifs.end() ? nullptr : &it->second, hw));
  }
  return nics;
}

std::string hostName() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) return "unknown";
  return host;
}

HostTopology discoverFallback() {
  HostTopology t;
  t.hostname = hostName();
  t.numaNodes = std::max(countSysNumaNodes(), 1);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  t.pus = n > 0 ? static_cast<int>(n) : 1;
  t.cores = t.pus;  // SMT siblings are not told apart here
  t.nics = discoverNics(nullptr);
  t.myNumaNode = currentNumaNode();
  t.fromHwloc = false;
  return t;
}

}  // namespace

namespace detail {
HostTopology discoverWithoutHwloc() { return discoverFallback(); }
}  // namespace detail

int currentNumaNode() {
  unsigned cpu = 0, node = 0;
  if (syscall(SYS_getcpu, &cpu, &node, nullptr) != 0) return -1;
  return static_cast<int>(node);
}

HostTopology discoverHostTopology() {
  hwloc_topology_t topo = hwloc().topo;
  if (topo == nullptr) return discoverFallback();
  HostTopology t;
  t.hostname = hostName();
  t.numaNodes = std::max(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE), 1);
  t.pus = std::max(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU), 1);
  int cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  t.cores = cores > 0 ? cores : t.pus;
  t.nics = discoverNics(topo);
  t.myNumaNode = currentNumaNode();
  t.fromHwloc = true;
  return t;
}

const HostTopology& processHostTopology() {
  static const HostTopology t = discoverHostTopology();
  return t;
}

int numaNodeOfAddress(void* p) {
  if (p == nullptr) return -1;
  const size_t page = pageSize();
  void* start = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) & ~(page - 1));
  hwloc_topology_t topo = hwloc().topo;
  if (topo != nullptr) {
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (set == nullptr) return -1;
    int node = -1;
    if (hwloc_get_area_memlocation(topo, start, page, set, HWLOC_MEMBIND_BYNODESET) == 0 &&
        hwloc_bitmap_weight(set) == 1) {
      node = hwloc_bitmap_first(set);
    }
    hwloc_bitmap_free(set);
    return node;
  }
  // move_pages with no target nodes only reports where each page is.
  void* pages[1] = {start};
  int status[1] = {-1};
  if (syscall(SYS_move_pages, 0, 1UL, pages, nullptr, status, 0) != 0) return -1;
  return status[0] >= 0 ? status[0] : -1;
}

Status bindToNumaNode(void* p, size_t bytes, int node) {
  if (bytes == 0 || node == -1) return Status::ok();
  if (p == nullptr) return invalidArgument("bindToNumaNode: null address");
  if (node < 0) return invalidArgument("bindToNumaNode: no NUMA node " + std::to_string(node));
  // One node: nothing to place, and no need to load hwloc (tens of ms).
  if (node == 0 && countSysNumaNodes() == 1) return Status::ok();
  hwloc_topology_t topo = hwloc().topo;
  if (topo == nullptr) {
    int n = countSysNumaNodes();
    bool exists = n == 0 ? node == 0
                         : pathExists("/sys/devices/system/node/node" + std::to_string(node));
    if (!exists) return invalidArgument("bindToNumaNode: no NUMA node " + std::to_string(node));
    if (n <= 1) return Status::ok();
    return systemError("bindToNumaNode: hwloc is unavailable, memory left where it is");
  }
  hwloc_obj_t obj = hwloc_get_numanode_obj_by_os_index(topo, static_cast<unsigned>(node));
  if (obj == nullptr) return invalidArgument("bindToNumaNode: no NUMA node " + std::to_string(node));
  if (hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE) <= 1) return Status::ok();
  const size_t page = pageSize();
  uintptr_t begin = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes + page - 1) & ~(page - 1);
  if (hwloc_set_area_membind(topo, reinterpret_cast<void*>(begin), end - begin, obj->nodeset,
                             HWLOC_MEMBIND_BIND,
                             HWLOC_MEMBIND_MIGRATE | HWLOC_MEMBIND_BYNODESET) != 0) {
    return systemError(errnoText("hwloc_set_area_membind(node " + std::to_string(node) + ")", errno));
  }
  return Status::ok();
}

}  // namespace mrd::topo
