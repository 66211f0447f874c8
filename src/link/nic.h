// Network interfaces for data traffic, and how the interfaces of two hosts
// pair up into rails (one path per pair).
//
// MRD_SOCKET_IFNAME follows NCCL_SOCKET_IFNAME: a comma list of name
// prefixes ("eth,ib"); a leading '^' excludes instead ("^docker,lo"); '='
// (after any '^') asks for exact names ("=eth0,eth1", "^=docker0"). Unset,
// every interface that is up with an address is used except loopback and
// the virtual-looking ones (docker*, virbr*, veth*, br-*, vnet*, tun*,
// tap*); loopback only when nothing else is left (a single host).
//
// Rails are matched by subnet: this host's NIC on 10.1.0.0/16 talks to the
// peer's NIC on 10.1.0.0/16. Where no subnet is shared the NICs are paired
// by position (rail i with rail i mod n), as routed networks need.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace mrd::link {

struct IfnameSpec {
  bool exclude = false;
  bool exact = false;
  std::vector<std::string> names;  // empty: no filter
};

IfnameSpec parseIfnameSpec(const std::string& spec);
bool matchesSpec(const IfnameSpec& spec, const std::string& ifname);

struct Nic {
  std::string name;
  int family = AF_INET;       // AF_INET or AF_INET6
  uint8_t addr[16] = {0};     // network byte order; IPv4 uses the first 4
  int prefixLen = 0;
  bool loopback = false;
  std::string addrText() const;
};

// Whether a name looks like a container or VM bridge/tap rather than a NIC.
bool looksVirtual(const std::string& ifname);
// Interfaces that are up with a usable address (IPv4, or IPv6 that is not
// link-local), in the kernel's order, one entry per (interface, address).
Status listInterfaces(std::vector<Nic>* out);
// The NICs to use under `spec` (MRD_SOCKET_IFNAME), at most `max`, one
// address per interface (IPv4 preferred). Fails, naming the spec and what
// exists, when nothing is left.
Status selectNics(const std::vector<Nic>& all, const std::string& spec, size_t max,
                  std::vector<Nic>* out);
bool sameSubnet(const Nic& a, const Nic& b);
// One (local index, remote index) pair per path: for each local NIC the
// first remote NIC on its subnet, each remote NIC used once while unused
// ones remain; with no shared subnet at all, by position.
std::vector<std::pair<int, int>> matchRails(const std::vector<Nic>& local,
                                            const std::vector<Nic>& remote);

// A NIC as exchanged over the bootstrap (fixed size, no pointers).
struct NicWire {
  char name[16];
  uint8_t family;  // 4 or 6
  uint8_t prefixLen;
  uint8_t reserved[2];
  uint8_t addr[16];
};
NicWire toWire(const Nic& n);
// Validates what a peer sent (family, prefix length, a terminated name).
Status fromWire(const NicWire& w, Nic* out);

}  // namespace mrd::link
