#include <cerrno>
#include <cstdio>
#include <sstream>

#include "log/log.h"
#include "topo/topo.h"

namespace mrd::topo {
namespace {

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", u);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

const char* jsonBool(bool b) { return b ? "true" : "false"; }

std::string jsonInts(const std::vector<int>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
  return out + "]";
}

// "0-3,6,8-9": ascending ranks as ranges.
std::string rankRanges(const std::vector<int>& ranks) {
  std::string out;
  for (size_t i = 0; i < ranks.size();) {
    size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(ranks[i]);
    if (j > i) out += "-" + std::to_string(ranks[j]);
    i = j + 1;
  }
  return out;
}

std::string describeNic(const Nic& n) {
  std::string s = n.name;
  if (!n.ipv4.empty()) s += " " + n.ipv4;
  if (n.speedMbps > 0) s += " " + std::to_string(n.speedMbps) + "Mb/s";
  if (n.numaNode >= 0) s += " numa" + std::to_string(n.numaNode);
  s += n.up ? " up" : " down";
  if (n.loopback) s += " loopback";
  else if (n.virtualIf) s += " virtual";
  return s;
}

}  // namespace

std::string describe(const HostTopology& host, const JobLayout& layout) {
  std::ostringstream os;
  os << "topology: host " << host.hostname << ": " << host.numaNodes << " NUMA node"
     << (host.numaNodes == 1 ? "" : "s") << ", " << host.cores << " cores, " << host.pus
     << " PUs (" << (host.fromHwloc ? "hwloc" : "fallback") << "), this thread on NUMA node ";
  if (host.myNumaNode >= 0) os << host.myNumaNode;
  else os << "?";
  os << "\ntopology: nics:";
  if (host.nics.empty()) os << " none";
  for (size_t i = 0; i < host.nics.size(); ++i) os << (i ? "; " : " ") << describeNic(host.nics[i]);
  os << "\ntopology: job: " << layout.nranks << " rank" << (layout.nranks == 1 ? "" : "s")
     << " on " << layout.nhosts << " host" << (layout.nhosts == 1 ? "" : "s");
  if (layout.nhosts > 0) {
    if (layout.uniform()) os << " (" << layout.maxLocalSize() << " per host)";
    else os << " (uneven, up to " << layout.maxLocalSize() << " per host)";
    constexpr int kShownHosts = 16;
    os << ":";
    for (int h = 0; h < layout.nhosts && h < kShownHosts; ++h) {
      os << (h ? "; " : " ") << "host " << h << " = ranks "
         << rankRanges(layout.ranksOfHost[static_cast<size_t>(h)]);
    }
    if (layout.nhosts > kShownHosts) os << "; ... " << (layout.nhosts - kShownHosts) << " more";
  }
  return os.str();
}

std::string toJson(const HostTopology& host, const JobLayout& layout, int rank) {
  std::ostringstream os;
  os << "{\n"
     << "  \"rank\": " << rank << ",\n"
     << "  \"hostname\": " << jsonString(host.hostname) << ",\n"
     << "  \"numa_nodes\": " << host.numaNodes << ",\n"
     << "  \"cores\": " << host.cores << ",\n"
     << "  \"pus\": " << host.pus << ",\n"
     << "  \"my_numa_node\": " << host.myNumaNode << ",\n"
     << "  \"source\": " << jsonString(host.fromHwloc ? "hwloc" : "fallback") << ",\n"
     << "  \"nics\": [";
  for (size_t i = 0; i < host.nics.size(); ++i) {
    const Nic& n = host.nics[i];
    os << (i ? "," : "") << "\n    {\"name\": " << jsonString(n.name)
       << ", \"ipv4\": " << jsonString(n.ipv4) << ", \"numa_node\": " << n.numaNode
       << ", \"speed_mbps\": " << n.speedMbps << ", \"up\": " << jsonBool(n.up)
       << ", \"loopback\": " << jsonBool(n.loopback) << ", \"virtual\": " << jsonBool(n.virtualIf)
       << "}";
  }
  os << (host.nics.empty() ? "" : "\n  ") << "],\n"
     << "  \"job\": {\n"
     << "    \"nranks\": " << layout.nranks << ",\n"
     << "    \"nhosts\": " << layout.nhosts << ",\n"
     << "    \"host_of\": " << jsonInts(layout.hostOf) << ",\n"
     << "    \"local_rank\": " << jsonInts(layout.localRank) << ",\n"
     << "    \"ranks_of_host\": [";
  for (size_t h = 0; h < layout.ranksOfHost.size(); ++h) {
    os << (h ? "," : "") << jsonInts(layout.ranksOfHost[h]);
  }
  os << "]\n  }\n}";
  return os.str();
}

Status dumpTopology(const std::string& pathPattern, const HostTopology& host,
                    const JobLayout& layout, int rank, std::string* writtenPath) {
  if (pathPattern.empty()) return invalidArgument("topology dump: empty file name");
  std::string path = log::expandPath(pathPattern);
  for (size_t pos; (pos = path.find("%r")) != std::string::npos;)
    path.replace(pos, 2, std::to_string(rank));
  if (writtenPath != nullptr) *writtenPath = path;
  std::string text = toJson(host, layout, rank) + "\n";
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return systemError(errnoText("topology dump: open " + path, errno));
  size_t n = std::fwrite(text.data(), 1, text.size(), f);
  int writeErr = n == text.size() ? 0 : errno;
  if (std::fclose(f) != 0 && writeErr == 0) writeErr = errno;
  if (writeErr != 0 || n != text.size()) {
    return systemError(errnoText("topology dump: write " + path, writeErr != 0 ? writeErr : EIO));
  }
  return Status::ok();
}

}  // namespace mrd::topo
