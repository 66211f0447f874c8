// src/topo: the job layout over a sameHost predicate, discovery of this
// host (hwloc and the fallback), memory placement, and the text and JSON
// forms including the dump file.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "topo/topo.h"

namespace mrd::topo {
namespace {

// ---------------------------------------------------------------- layouts

// A layout from a host label per rank.
JobLayout layoutOf(const std::vector<char>& hostLabel, int* calls = nullptr) {
  return buildJobLayout(static_cast<int>(hostLabel.size()), [&](int a, int b) {
    if (calls != nullptr) ++*calls;
    return hostLabel[static_cast<size_t>(a)] == hostLabel[static_cast<size_t>(b)];
  });
}

TEST(JobLayout, Empty) {
  JobLayout l = layoutOf({});
  EXPECT_EQ(l.nranks, 0);
  EXPECT_EQ(l.nhosts, 0);
  EXPECT_EQ(l.maxLocalSize(), 0);
  EXPECT_TRUE(l.uniform());
  EXPECT_EQ(l.rankOn(0, 0), -1);
  EXPECT_EQ(buildJobLayout(-3, [](int, int) { return true; }).nranks, 0);
}

TEST(JobLayout, OneHost) {
  JobLayout l = layoutOf({'A', 'A', 'A', 'A'});
  EXPECT_EQ(l.nhosts, 1);
  EXPECT_EQ(l.hostOf, (std::vector<int>{0, 0, 0, 0}));
  EXPECT_EQ(l.localRank, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(l.maxLocalSize(), 4);
  EXPECT_TRUE(l.uniform());
  EXPECT_EQ(l.rankOn(0, 3), 3);
}

TEST(JobLayout, OneRankPerHost) {
  int calls = 0;
  JobLayout l = layoutOf({'A', 'B', 'C'}, &calls);
  EXPECT_EQ(l.nhosts, 3);
  EXPECT_EQ(l.hostOf, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(l.localRank, (std::vector<int>{0, 0, 0}));
  EXPECT_EQ(l.maxLocalSize(), 1);
  EXPECT_TRUE(l.uniform());
  EXPECT_EQ(l.rankOn(2, 0), 2);
  EXPECT_EQ(l.rankOn(2, 1), -1);
  EXPECT_LE(calls, 3);
}

TEST(JobLayout, ThreeAndOne) {
  JobLayout l = layoutOf({'A', 'A', 'A', 'B'});
  EXPECT_EQ(l.nranks, 4);
  EXPECT_EQ(l.nhosts, 2);
  EXPECT_EQ(l.hostOf, (std::vector<int>{0, 0, 0, 1}));
  EXPECT_EQ(l.ranksOfHost, (std::vector<std::vector<int>>{{0, 1, 2}, {3}}));
  EXPECT_EQ(l.localRank, (std::vector<int>{0, 1, 2, 0}));
  EXPECT_EQ(l.maxLocalSize(), 3);
  EXPECT_FALSE(l.uniform());
  EXPECT_EQ(l.rankOn(1, 0), 3);
  EXPECT_EQ(l.rankOn(1, 1), -1);
  EXPECT_EQ(l.rankOn(2, 0), -1);
  EXPECT_EQ(l.rankOn(-1, 0), -1);
  EXPECT_EQ(l.rankOn(0, -1), -1);
}

TEST(JobLayout, LoneRankFirstThenThree) {
  // Host numbering follows the lowest rank: B holds rank 1, so it is host 1
  // even though A appears again later.
  JobLayout l = layoutOf({'A', 'B', 'A', 'A'});
  EXPECT_EQ(l.hostOf, (std::vector<int>{0, 1, 0, 0}));
  EXPECT_EQ(l.ranksOfHost, (std::vector<std::vector<int>>{{0, 2, 3}, {1}}));
  EXPECT_EQ(l.localRank, (std::vector<int>{0, 0, 1, 2}));
  EXPECT_FALSE(l.uniform());
  EXPECT_EQ(l.rankOn(0, 2), 3);
}

TEST(JobLayout, Interleaved) {
  JobLayout l = layoutOf({'A', 'B', 'A', 'B'});
  EXPECT_EQ(l.nhosts, 2);
  EXPECT_EQ(l.hostOf, (std::vector<int>{0, 1, 0, 1}));
  EXPECT_EQ(l.ranksOfHost, (std::vector<std::vector<int>>{{0, 2}, {1, 3}}));
  EXPECT_EQ(l.localRank, (std::vector<int>{0, 0, 1, 1}));
  EXPECT_EQ(l.maxLocalSize(), 2);
  EXPECT_TRUE(l.uniform());
  EXPECT_EQ(l.rankOn(1, 1), 3);
  EXPECT_EQ(l.rankOn(0, 1), 2);
}

TEST(JobLayout, HostsNumberedByLowestRank) {
  JobLayout l = layoutOf({'C', 'A', 'C', 'B', 'A', 'B', 'B'});
  EXPECT_EQ(l.hostOf, (std::vector<int>{0, 1, 0, 2, 1, 2, 2}));
  EXPECT_EQ(l.ranksOfHost, (std::vector<std::vector<int>>{{0, 2}, {1, 4}, {3, 5, 6}}));
  EXPECT_EQ(l.localRank, (std::vector<int>{0, 0, 1, 0, 1, 1, 2}));
  EXPECT_EQ(l.maxLocalSize(), 3);
  EXPECT_FALSE(l.uniform());
  // Every rank is found again through rankOn.
  for (int r = 0; r < l.nranks; ++r) {
    EXPECT_EQ(l.rankOn(l.hostOf[static_cast<size_t>(r)], l.localRank[static_cast<size_t>(r)]), r);
  }
}

// ------------------------------------------------------------- a tiny JSON

// Enough of a JSON parser to check what toJson writes: the whole text must
// be one value, with nothing after it.
struct Json {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
  bool b = false;
  double number = 0;
  std::string str;
  std::vector<Json> items;
  std::map<std::string, Json> fields;
  bool has(const std::string& k) const { return kind == kObject && fields.count(k) != 0; }
  const Json& operator[](const std::string& k) const { return fields.at(k); }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& s) : s_(s) {}
  bool parse(Json* out) {
    if (!value(out)) return false;
    ws();
    return i_ == s_.size();
  }

 private:
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r'))
      ++i_;
  }
  bool lit(const char* w) {
    std::string word(w);
    if (s_.compare(i_, word.size(), word) != 0) return false;
    i_ += word.size();
    return true;
  }
  bool string(std::string* out) {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    ++i_;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c == '\\') {
        if (i_ >= s_.size()) return false;
        char e = s_[i_++];
        switch (e) {
          case '"': case '\\': case '/': *out += e; break;
          case 'n': *out += '\n'; break;
          case 't': *out += '\t'; break;
          case 'r': *out += '\r'; break;
          case 'b': *out += '\b'; break;
          case 'f': *out += '\f'; break;
          case 'u':
            if (i_ + 4 > s_.size()) return false;
            *out += static_cast<char>(std::strtol(s_.substr(i_, 4).c_str(), nullptr, 16));
            i_ += 4;
            break;
          default: return false;
        }
      } else {
        *out += c;
      }
    }
    if (i_ >= s_.size()) return false;
    ++i_;
    return true;
  }
  bool value(Json* v) {
    ws();
    if (i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '{') {
      v->kind = Json::kObject;
      ++i_;
      ws();
      if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
      for (;;) {
        ws();
        std::string key;
        if (!string(&key)) return false;
        ws();
        if (i_ >= s_.size() || s_[i_++] != ':') return false;
        if (v->fields.count(key) != 0) return false;  // duplicate key
        if (!value(&v->fields[key])) return false;
        ws();
        if (i_ >= s_.size()) return false;
        if (s_[i_] == ',') { ++i_; continue; }
        if (s_[i_] == '}') return ++i_, true;
        return false;
      }
    }
    if (c == '[') {
      v->kind = Json::kArray;
      ++i_;
      ws();
      if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
      for (;;) {
        v->items.emplace_back();
        if (!value(&v->items.back())) return false;
        ws();
        if (i_ >= s_.size()) return false;
        if (s_[i_] == ',') { ++i_; continue; }
        if (s_[i_] == ']') return ++i_, true;
        return false;
      }
    }
    if (c == '"') {
      v->kind = Json::kString;
      return string(&v->str);
    }
    if (lit("true")) return v->kind = Json::kBool, v->b = true, true;
    if (lit("false")) return v->kind = Json::kBool, v->b = false, true;
    if (lit("null")) return v->kind = Json::kNull, true;
    const char* start = s_.c_str() + i_;
    char* end = nullptr;
    v->number = std::strtod(start, &end);
    if (end == start) return false;
    v->kind = Json::kNumber;
    i_ += static_cast<size_t>(end - start);
    return true;
  }

  const std::string& s_;
  size_t i_ = 0;
};

TEST(JsonParserSelfTest, RejectsBrokenText) {
  Json j;
  EXPECT_TRUE(JsonParser(R"({"a": [1, {"b": "x\"y"}], "c": true})").parse(&j));
  EXPECT_FALSE(JsonParser(R"({"a": [1, 2})").parse(&j));
  EXPECT_FALSE(JsonParser(R"({"a": 1,})").parse(&j));
  EXPECT_FALSE(JsonParser(R"({"a": 1} x)").parse(&j));
  EXPECT_FALSE(JsonParser(R"({"a": "b)").parse(&j));
}

// ----------------------------------------------------------- this machine

const Nic* findNic(const HostTopology& t, const std::string& name) {
  for (const Nic& n : t.nics) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

void expectSane(const HostTopology& t) {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  EXPECT_EQ(t.hostname, host);
  EXPECT_GE(t.numaNodes, 1);
  EXPECT_GE(t.cores, 1);
  EXPECT_GE(t.pus, t.cores);
  EXPECT_GE(t.myNumaNode, -1);
  const Nic* lo = findNic(t, "lo");
  ASSERT_NE(lo, nullptr) << "no lo among the nics";
  EXPECT_TRUE(lo->loopback);
  EXPECT_TRUE(lo->up);
  EXPECT_TRUE(lo->virtualIf);
  EXPECT_EQ(lo->ipv4, "127.0.0.1");
  for (const Nic& n : t.nics) {
    EXPECT_FALSE(n.name.empty());
    EXPECT_GE(n.numaNode, -1);
  }
}

TEST(HostTopology, DiscoversThisMachine) {
  HostTopology t = discoverHostTopology();
  expectSane(t);
  // The nohwloc.* variant of this suite makes hwloc fail on purpose.
  const char* components = std::getenv("HWLOC_COMPONENTS");
  if (components != nullptr && std::string(components) == "stop") {
    EXPECT_FALSE(t.fromHwloc);
  }
  std::cout << describe(t, layoutOf({'A'})) << "\n";
}

TEST(HostTopology, FallbackDiscoversThisMachine) {
  HostTopology t = detail::discoverWithoutHwloc();
  EXPECT_FALSE(t.fromHwloc);
  expectSane(t);
  // Both paths see the same interfaces.
  HostTopology h = discoverHostTopology();
  for (const Nic& n : t.nics) EXPECT_NE(findNic(h, n.name), nullptr) << n.name;
}

TEST(HostTopology, ProcessTopologyIsCached) {
  const HostTopology& a = processHostTopology();
  const HostTopology& b = processHostTopology();
  EXPECT_EQ(&a, &b);
  expectSane(a);
}

TEST(HostTopology, CurrentNumaNodeIsANode) {
  int node = currentNumaNode();
  EXPECT_GE(node, -1);
  if (processHostTopology().numaNodes == 1) {
    EXPECT_LE(node, 0);
  }
}

struct Pages {
  explicit Pages(size_t n) : bytes(n * static_cast<size_t>(sysconf(_SC_PAGESIZE))) {
    p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  ~Pages() {
    if (p != MAP_FAILED) munmap(p, bytes);
  }
  size_t bytes;
  void* p;
};

TEST(Memory, NumaNodeOfAddress) {
  EXPECT_EQ(numaNodeOfAddress(nullptr), -1);
  Pages pages(4);
  ASSERT_NE(pages.p, MAP_FAILED);
  std::memset(pages.p, 1, pages.bytes);
  char* mid = static_cast<char*>(pages.p) + pages.bytes / 2 + 17;  // unaligned on purpose
  int node = numaNodeOfAddress(mid);
  // -1 is allowed: the kernel may refuse the query (seccomp in containers).
  EXPECT_GE(node, -1);
  if (processHostTopology().numaNodes == 1) {
    EXPECT_LE(node, 0);
  }
  std::cout << "touched page on NUMA node " << node << "\n";
}

TEST(Memory, BindToNumaNode) {
  Pages pages(8);
  ASSERT_NE(pages.p, MAP_FAILED);
  std::memset(pages.p, 1, pages.bytes);
  int node = currentNumaNode();
  if (node < 0) node = 0;
  Status s = bindToNumaNode(static_cast<char*>(pages.p) + 100, pages.bytes - 200, node);
  if (processHostTopology().numaNodes == 1) {
    EXPECT_TRUE(s.isOk()) << s.message();
  } else {
    // Several nodes: it works, or the kernel said no in words.
    EXPECT_TRUE(s.isOk() || s.code() == mrdSystemError) << s.message();
    if (s.isOk()) {
      EXPECT_EQ(numaNodeOfAddress(pages.p), node);
    }
  }
  EXPECT_TRUE(bindToNumaNode(pages.p, 0, node).isOk());
  EXPECT_TRUE(bindToNumaNode(pages.p, pages.bytes, -1).isOk());
  Status bad = bindToNumaNode(pages.p, pages.bytes, 4095);
  EXPECT_EQ(bad.code(), mrdInvalidArgument) << bad.message();
  EXPECT_EQ(bindToNumaNode(pages.p, pages.bytes, -7).code(), mrdInvalidArgument);
  EXPECT_EQ(bindToNumaNode(nullptr, 64, 0).code(), mrdInvalidArgument);
}

// ------------------------------------------------------- text and JSON

HostTopology syntheticHost() {
  HostTopology t;
  t.hostname = "node\"7\\x";  // quotes and backslashes must be escaped
  t.numaNodes = 2;
  t.cores = 16;
  t.pus = 32;
  t.myNumaNode = 1;
  t.fromHwloc = true;
  Nic lo;
  lo.name = "lo";
  lo.ipv4 = "127.0.0.1";
  lo.up = lo.loopback = lo.virtualIf = true;
  Nic ib;
  ib.name = "ib0";
  ib.ipv4 = "10.1.2.3";
  ib.numaNode = 1;
  ib.speedMbps = 100000;
  ib.up = true;
  Nic veth;
  veth.name = "veth\t9";
  veth.virtualIf = true;
  t.nics = {lo, ib, veth};
  return t;
}

void expectTopologyJson(const std::string& text, const HostTopology& t, const JobLayout& l,
                        int rank) {
  Json j;
  ASSERT_TRUE(JsonParser(text).parse(&j)) << text;
  ASSERT_EQ(j.kind, Json::kObject);
  for (const char* k : {"rank", "hostname", "numa_nodes", "cores", "pus", "my_numa_node", "source",
                        "nics", "job"}) {
    EXPECT_TRUE(j.has(k)) << k;
  }
  EXPECT_EQ(j["rank"].number, rank);
  EXPECT_EQ(j["hostname"].str, t.hostname);
  EXPECT_EQ(j["numa_nodes"].number, t.numaNodes);
  EXPECT_EQ(j["cores"].number, t.cores);
  EXPECT_EQ(j["pus"].number, t.pus);
  ASSERT_EQ(j["nics"].kind, Json::kArray);
  ASSERT_EQ(j["nics"].items.size(), t.nics.size());
  for (size_t i = 0; i < t.nics.size(); ++i) {
    const Json& n = j["nics"].items[i];
    for (const char* k : {"name", "ipv4", "numa_node", "speed_mbps", "up", "loopback", "virtual"}) {
      EXPECT_TRUE(n.has(k)) << k;
    }
    EXPECT_EQ(n["name"].str, t.nics[i].name);
    EXPECT_EQ(n["ipv4"].str, t.nics[i].ipv4);
    EXPECT_EQ(n["numa_node"].number, t.nics[i].numaNode);
    EXPECT_EQ(n["speed_mbps"].number, static_cast<double>(t.nics[i].speedMbps));
    EXPECT_EQ(n["up"].b, t.nics[i].up);
    EXPECT_EQ(n["loopback"].b, t.nics[i].loopback);
    EXPECT_EQ(n["virtual"].b, t.nics[i].virtualIf);
  }
  const Json& job = j["job"];
  for (const char* k : {"nranks", "nhosts", "host_of", "local_rank", "ranks_of_host"}) {
    EXPECT_TRUE(job.has(k)) << k;
  }
  EXPECT_EQ(job["nranks"].number, l.nranks);
  EXPECT_EQ(job["nhosts"].number, l.nhosts);
  ASSERT_EQ(job["host_of"].items.size(), static_cast<size_t>(l.nranks));
  ASSERT_EQ(job["local_rank"].items.size(), static_cast<size_t>(l.nranks));
  for (size_t r = 0; r < static_cast<size_t>(l.nranks); ++r) {
    EXPECT_EQ(job["host_of"].items[r].number, l.hostOf[r]);
    EXPECT_EQ(job["local_rank"].items[r].number, l.localRank[r]);
  }
  ASSERT_EQ(job["ranks_of_host"].items.size(), static_cast<size_t>(l.nhosts));
}

TEST(TopoText, JsonOfSyntheticHostParses) {
  HostTopology t = syntheticHost();
  JobLayout l = layoutOf({'A', 'B', 'A', 'B'});
  expectTopologyJson(toJson(t, l, 2), t, l, 2);
}

TEST(TopoText, JsonOfEmptyThingsParses) {
  HostTopology t;
  t.hostname = "h";
  JobLayout l = layoutOf({});
  expectTopologyJson(toJson(t, l, 0), t, l, 0);
}

TEST(TopoText, JsonOfThisMachineParses) {
  const HostTopology& t = processHostTopology();
  JobLayout l = layoutOf({'A', 'A', 'A', 'B'});
  expectTopologyJson(toJson(t, l, 3), t, l, 3);
}

TEST(TopoText, Describe) {
  std::string d = describe(syntheticHost(), layoutOf({'A', 'A', 'A', 'B', 'C', 'C'}));
  std::cout << d << "\n";
  EXPECT_NE(d.find("2 NUMA nodes, 16 cores, 32 PUs"), std::string::npos) << d;
  EXPECT_NE(d.find("ib0 10.1.2.3 100000Mb/s numa1 up"), std::string::npos) << d;
  EXPECT_NE(d.find("lo 127.0.0.1 up loopback"), std::string::npos) << d;
  EXPECT_NE(d.find("6 ranks on 3 hosts (uneven, up to 3 per host)"), std::string::npos) << d;
  EXPECT_NE(d.find("host 0 = ranks 0-2; host 1 = ranks 3; host 2 = ranks 4-5"), std::string::npos)
      << d;
  EXPECT_EQ(d.back() == '\n', false);
  std::string u = describe(syntheticHost(), layoutOf({'A', 'B', 'A', 'B'}));
  EXPECT_NE(u.find("4 ranks on 2 hosts (2 per host): host 0 = ranks 0,2; host 1 = ranks 1,3"),
            std::string::npos)
      << u;
}

// ------------------------------------------------------------------ dump

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TopoDump, ExpandsHostPidAndRank) {
  char dirTemplate[] = "/tmp/mrd_topo_test.XXXXXX";
  ASSERT_NE(mkdtemp(dirTemplate), nullptr);
  std::string dir = dirTemplate;
  const HostTopology& t = processHostTopology();
  JobLayout l = layoutOf({'A', 'B', 'A', 'B'});
  std::string written;
  Status s = dumpTopology(dir + "/topo-%h-%p-%r.json", t, l, 3, &written);
  ASSERT_TRUE(s.isOk()) << s.message();
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  std::string expected = dir + "/topo-" + host + "-" + std::to_string(getpid()) + "-3.json";
  EXPECT_EQ(written, expected);
  std::string text = readFile(expected);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  expectTopologyJson(text, t, l, 3);
  // A second dump replaces the file.
  ASSERT_TRUE(dumpTopology(dir + "/topo-%h-%p-%r.json", t, l, 3).isOk());
  EXPECT_EQ(readFile(expected), text);
  std::remove(expected.c_str());
  rmdir(dir.c_str());
}

TEST(TopoDump, MissingDirectoryIsAnError) {
  const HostTopology& t = processHostTopology();
  JobLayout l = layoutOf({'A'});
  Status s = dumpTopology("/nonexistent-mrd-topo-dir/sub/topo-%p.json", t, l, 0);
  EXPECT_FALSE(s.isOk());
  EXPECT_EQ(s.code(), mrdSystemError);
  EXPECT_NE(s.message().find("/nonexistent-mrd-topo-dir/sub/topo-" + std::to_string(getpid())),
            std::string::npos)
      << s.message();
  EXPECT_FALSE(dumpTopology("", t, l, 0).isOk());
}

}  // namespace
}  // namespace mrd::topo
