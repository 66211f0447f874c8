// NIC selection and rail matching; see nic.h.
#include "link/nic.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

namespace mrd::link {

IfnameSpec parseIfnameSpec(const std::string& spec) {
  IfnameSpec s;
  size_t at = 0;
  if (at < spec.size() && spec[at] == '^') {
    s.exclude = true;
    ++at;
  }
  if (at < spec.size() && spec[at] == '=') {
    s.exact = true;
    ++at;
  }
  std::stringstream ss(spec.substr(at));
  std::string item;
  while (std::getline(ss, item, ',')) {
    // Surrounding spaces are a typo, not part of a name.
    size_t b = item.find_first_not_of(' ');
    size_t e = item.find_last_not_of(' ');
    if (b != std::string::npos) s.names.push_back(item.substr(b, e - b + 1));
  }
  return s;
}

bool matchesSpec(const IfnameSpec& spec, const std::string& ifname) {
  if (spec.names.empty()) return true;
  bool hit = false;
  for (const std::string& n : spec.names) {
    if (spec.exact ? ifname == n : ifname.compare(0, n.size(), n) == 0) hit = true;
  }
  return spec.exclude ? !hit : hit;
}

std::string Nic::addrText() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  inet_ntop(family, addr, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefixLen);
}

bool looksVirtual(const std::string& n) {
  for (const char* p : {"docker", "virbr", "veth", "br-", "vnet", "tun", "tap"}) {
    if (n.compare(0, std::strlen(p), p) == 0) return true;
  }
  return false;
}

namespace {

int prefixOf(const sockaddr* mask, int family) {
  if (mask == nullptr) return family == AF_INET ? 32 : 128;
  const uint8_t* b = family == AF_INET
                         ? reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr)
                         : reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
  int n = 0;
  for (int i = 0; i < (family == AF_INET ? 4 : 16); ++i) n += __builtin_popcount(b[i]);
  return n;
}

}  // namespace

Status listInterfaces(std::vector<Nic>* out) {
  out->clear();
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return systemError(std::string("getifaddrs: ") + std::strerror(errno));
  }
  for (const ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr || !(ifa->ifa_flags & IFF_UP)) continue;
    const int fam = ifa->ifa_addr->sa_family;
    Nic n;
    n.family = fam;
    if (fam == AF_INET) {
      std::memcpy(n.addr, &reinterpret_cast<const sockaddr_in*>(ifa->ifa_addr)->sin_addr, 4);
    } else if (fam == AF_INET6) {
      const auto* a6 = reinterpret_cast<const sockaddr_in6*>(ifa->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr)) continue;  // needs a scope id
      std::memcpy(n.addr, &a6->sin6_addr, 16);
    } else {
      continue;
    }
    n.name = ifa->ifa_name;
    n.prefixLen = prefixOf(ifa->ifa_netmask, fam);
    n.loopback = (ifa->ifa_flags & IFF_LOOPBACK) != 0;
    out->push_back(n);
  }
  freeifaddrs(list);
  return Status::ok();
}

Status selectNics(const std::vector<Nic>& all, const std::string& specText, size_t max,
                  std::vector<Nic>* out) {
  out->clear();
  const IfnameSpec spec = parseIfnameSpec(specText);
  const bool named = !spec.names.empty() && !spec.exclude;
  auto pick = [&](bool allowLoopback) {
    // IPv4 first, then IPv6, one address per interface, kernel order.
    for (int fam : {AF_INET, AF_INET6}) {
      for (const Nic& n : all) {
        if (n.family != fam || !matchesSpec(spec, n.name)) continue;
        if (n.loopback && !allowLoopback) continue;
        if (!named && looksVirtual(n.name)) continue;
        bool seen = false;
        for (const Nic& o : *out) seen = seen || o.name == n.name;
        if (!seen && out->size() < max) out->push_back(n);
      }
    }
  };
  // Named interfaces are used as named, loopback included.
  pick(named);
  if (out->empty() && !named) pick(true);
  if (out->empty()) {
    std::string have;
    for (const Nic& n : all) have += (have.empty() ? "" : ", ") + n.name + " " + n.addrText();
    return invalidUsage("no usable network interface matches MRD_SOCKET_IFNAME='" + specText +
                        "' (interfaces that are up: " + (have.empty() ? "none" : have) + ")");
  }
  return Status::ok();
}

bool sameSubnet(const Nic& a, const Nic& b) {
  if (a.family != b.family || a.prefixLen != b.prefixLen) return false;
  const int bits = a.prefixLen;
  for (int i = 0; i < bits / 8; ++i) {
    if (a.addr[i] != b.addr[i]) return false;
  }
  if (bits % 8 != 0) {
    const uint8_t m = static_cast<uint8_t>(0xFF << (8 - bits % 8));
    if ((a.addr[bits / 8] & m) != (b.addr[bits / 8] & m)) return false;
  }
  return true;
}

std::vector<std::pair<int, int>> matchRails(const std::vector<Nic>& local,
                                            const std::vector<Nic>& remote) {
  std::vector<std::pair<int, int>> paths;
  if (local.empty() || remote.empty()) return paths;
  std::vector<bool> used(remote.size(), false);
  for (size_t i = 0; i < local.size(); ++i) {
    int pick = -1;
    for (size_t j = 0; j < remote.size(); ++j) {
      if (!sameSubnet(local[i], remote[j])) continue;
      if (pick < 0 || (used[static_cast<size_t>(pick)] && !used[j])) pick = static_cast<int>(j);
    }
    if (pick >= 0) {
      used[static_cast<size_t>(pick)] = true;
      paths.emplace_back(static_cast<int>(i), pick);
    }
  }
  if (paths.empty()) {
    // Routed networks share no subnet: pair by position.
    for (size_t i = 0; i < local.size(); ++i) {
      paths.emplace_back(static_cast<int>(i), static_cast<int>(i % remote.size()));
    }
  }
  return paths;
}

NicWire toWire(const Nic& n) {
  NicWire w{};
  std::strncpy(w.name, n.name.c_str(), sizeof w.name - 1);
  w.family = n.family == AF_INET ? 4 : 6;
  w.prefixLen = static_cast<uint8_t>(n.prefixLen);
  std::memcpy(w.addr, n.addr, sizeof w.addr);
  return w;
}

Status fromWire(const NicWire& w, Nic* out) {
  if (w.family != 4 && w.family != 6) {
    return invalidArgument("NIC record with address family " + std::to_string(w.family));
  }
  if (w.prefixLen > (w.family == 4 ? 32 : 128)) {
    return invalidArgument("NIC record with prefix length " + std::to_string(w.prefixLen));
  }
  if (std::memchr(w.name, '\0', sizeof w.name) == nullptr) {
    return invalidArgument("NIC record with an unterminated name");
  }
  out->name = w.name;
  out->family = w.family == 4 ? AF_INET : AF_INET6;
  out->prefixLen = w.prefixLen;
  std::memcpy(out->addr, w.addr, sizeof out->addr);
  out->loopback = false;
  return Status::ok();
}

}  // namespace mrd::link
