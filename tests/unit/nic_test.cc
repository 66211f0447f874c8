// NIC selection (MRD_SOCKET_IFNAME in NCCL's syntax) and rail matching.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "link/nic.h"

namespace mrd::link {
namespace {

Nic v4(const std::string& name, const char* addr, int prefix, bool loopback = false) {
  Nic n;
  n.name = name;
  n.family = AF_INET;
  inet_pton(AF_INET, addr, n.addr);
  n.prefixLen = prefix;
  n.loopback = loopback;
  return n;
}

Nic v6(const std::string& name, const char* addr, int prefix) {
  Nic n;
  n.name = name;
  n.family = AF_INET6;
  inet_pton(AF_INET6, addr, n.addr);
  n.prefixLen = prefix;
  return n;
}

std::vector<std::string> names(const std::vector<Nic>& nics) {
  std::vector<std::string> out;
  for (const Nic& n : nics) out.push_back(n.name);
  return out;
}

TEST(IfnameSpec, NcclSyntax) {
  IfnameSpec s = parseIfnameSpec("eth,ib");
  EXPECT_FALSE(s.exclude);
  EXPECT_FALSE(s.exact);
  EXPECT_EQ(s.names, (std::vector<std::string>{"eth", "ib"}));
  EXPECT_TRUE(matchesSpec(s, "eth0"));
  EXPECT_TRUE(matchesSpec(s, "ib1"));
  EXPECT_FALSE(matchesSpec(s, "enp3s0"));

  s = parseIfnameSpec("^docker,lo");
  EXPECT_TRUE(s.exclude);
  EXPECT_FALSE(matchesSpec(s, "docker0"));
  EXPECT_FALSE(matchesSpec(s, "lo"));
  EXPECT_TRUE(matchesSpec(s, "eth0"));

  s = parseIfnameSpec("=eth0, eth1 ");
  EXPECT_TRUE(s.exact);
  EXPECT_TRUE(matchesSpec(s, "eth0"));
  EXPECT_TRUE(matchesSpec(s, "eth1"));
  EXPECT_FALSE(matchesSpec(s, "eth10"));

  s = parseIfnameSpec("^=eth0");
  EXPECT_TRUE(s.exclude && s.exact);
  EXPECT_FALSE(matchesSpec(s, "eth0"));
  EXPECT_TRUE(matchesSpec(s, "eth01"));

  EXPECT_TRUE(matchesSpec(parseIfnameSpec(""), "anything"));
}

const std::vector<Nic> kHost = {
    v4("lo", "127.0.0.1", 8, true), v4("eth0", "10.1.0.5", 16),  v6("eth0", "fd00::5", 64),
    v4("docker0", "172.17.0.1", 16), v4("veth3", "10.9.0.1", 24), v4("eth1", "10.2.0.5", 16),
    v6("ib0", "fd01::5", 64)};

TEST(SelectNics, DefaultSkipsLoopbackAndVirtualOneAddressPerInterface) {
  std::vector<Nic> out;
  ASSERT_TRUE(selectNics(kHost, "", 8, &out).isOk());
  EXPECT_EQ(names(out), (std::vector<std::string>{"eth0", "eth1", "ib0"}));
  EXPECT_EQ(out[0].family, AF_INET) << "IPv4 preferred";
  ASSERT_TRUE(selectNics(kHost, "", 2, &out).isOk());
  EXPECT_EQ(names(out), (std::vector<std::string>{"eth0", "eth1"}));
}

TEST(SelectNics, NamedInterfacesAreUsedEvenIfVirtualOrLoopback) {
  std::vector<Nic> out;
  ASSERT_TRUE(selectNics(kHost, "veth", 8, &out).isOk());
  EXPECT_EQ(names(out), (std::vector<std::string>{"veth3"}));
  ASSERT_TRUE(selectNics(kHost, "lo", 8, &out).isOk());
  EXPECT_EQ(names(out), (std::vector<std::string>{"lo"}));
  ASSERT_TRUE(selectNics(kHost, "^eth", 8, &out).isOk());
  EXPECT_EQ(names(out), (std::vector<std::string>{"ib0"}));
}

TEST(SelectNics, LoopbackOnlyWhenNothingElseAndAClearErrorWhenNothingMatches) {
  std::vector<Nic> out;
  ASSERT_TRUE(selectNics({kHost[0], kHost[3]}, "", 8, &out).isOk());
  EXPECT_EQ(names(out), (std::vector<std::string>{"lo"}));
  Status st = selectNics(kHost, "=eth9", 8, &out);
  EXPECT_EQ(st.code(), mrdInvalidUsage);
  EXPECT_NE(st.message().find("MRD_SOCKET_IFNAME='=eth9'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("eth1 10.2.0.5/16"), std::string::npos) << st.message();
}

TEST(Rails, MatchedBySubnet) {
  std::vector<Nic> a = {v4("eth0", "10.1.0.5", 16), v4("eth1", "10.2.0.5", 16)};
  std::vector<Nic> b = {v4("ens1", "10.2.7.9", 16), v4("ens0", "10.1.7.9", 16)};
  EXPECT_TRUE(sameSubnet(a[0], b[1]));
  EXPECT_FALSE(sameSubnet(a[0], b[0]));
  EXPECT_FALSE(sameSubnet(v4("x", "10.1.0.5", 16), v4("y", "10.1.0.6", 24))) << "prefixes differ";
  EXPECT_TRUE(sameSubnet(v4("x", "10.1.0.130", 25), v4("y", "10.1.0.200", 25)));
  EXPECT_FALSE(sameSubnet(v4("x", "10.1.0.5", 25), v4("y", "10.1.0.200", 25)));
  EXPECT_EQ(matchRails(a, b), (std::vector<std::pair<int, int>>{{0, 1}, {1, 0}}));
  // A NIC without a partner on its subnet gets no path.
  std::vector<Nic> one = {v4("ens0", "10.1.7.9", 16)};
  EXPECT_EQ(matchRails(a, one), (std::vector<std::pair<int, int>>{{0, 0}}));
}

TEST(Rails, ByPositionWhenNoSubnetIsShared) {
  std::vector<Nic> a = {v4("eth0", "10.1.0.5", 24), v4("eth1", "10.2.0.5", 24)};
  std::vector<Nic> b = {v4("eth0", "10.3.0.5", 24)};
  EXPECT_EQ(matchRails(a, b), (std::vector<std::pair<int, int>>{{0, 0}, {1, 0}}));
  EXPECT_TRUE(matchRails(a, {}).empty());
}

TEST(NicWire, RoundTripAndValidation) {
  Nic n = v6("ib0", "fd01::5", 64);
  Nic back;
  ASSERT_TRUE(fromWire(toWire(n), &back).isOk());
  EXPECT_EQ(back.name, "ib0");
  EXPECT_EQ(back.family, AF_INET6);
  EXPECT_EQ(back.prefixLen, 64);
  EXPECT_TRUE(sameSubnet(n, back));
  NicWire w = toWire(n);
  w.family = 5;
  EXPECT_EQ(fromWire(w, &back).code(), mrdInvalidArgument);
  w = toWire(v4("eth0", "10.1.0.5", 16));
  w.prefixLen = 33;
  EXPECT_EQ(fromWire(w, &back).code(), mrdInvalidArgument);
  w = toWire(n);
  std::memset(w.name, 'x', sizeof w.name);
  EXPECT_EQ(fromWire(w, &back).code(), mrdInvalidArgument);
}

TEST(ListInterfaces, LoopbackIsThere) {
  std::vector<Nic> all;
  ASSERT_TRUE(listInterfaces(&all).isOk());
  bool lo = false;
  for (const Nic& n : all) lo = lo || (n.loopback && n.family == AF_INET);
  EXPECT_TRUE(lo);
}

}  // namespace
}  // namespace mrd::link
