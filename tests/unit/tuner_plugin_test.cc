// Tuner plug-ins (include/meridian/meridian_tuner.h):
//  - the example plug-in (src/tuner/example) loaded through the loader: its
//    built-in demo rule, a config file forcing algorithms, channels and
//    chunks by collective and size, bad config files failing init;
//  - the adapter inside the Tuner: the plug-in's choice wins, channels are
//    clamped, a failing getCollInfo fails the decision naming the plug-in,
//    destroy() runs when the adjuster goes;
//  - the loader's error paths (no such file, no symbol, a NULL entry, init
//    failing);
//  - TunerPluginComm.*: communicators (threads as ranks) under
//    MRD_TUNER_PLUGIN; they only run under the environment
//    tests/CMakeLists.txt gives them (skipped otherwise).
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/algorithm.h"
#include "log/log.h"
#include "meridian/meridian_tuner.h"
#include "support/thread_ranks.h"
#include "tuner/tuner.h"
#include "tuner/tuner_plugin.h"

namespace mrd::tuner {
namespace {

using mrdtest::ScopedEnv;

// A config file that removes itself.
class TempConfig {
 public:
  explicit TempConfig(const std::string& text) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/mrd-tuner-XXXXXX";
    int fd = mkstemp(&path_[0]);
    EXPECT_GE(fd, 0) << path_;
    if (fd >= 0) {
      EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
      close(fd);
    }
  }
  ~TempConfig() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<CostAdjuster> loadExample(const char* config, int nranks = 4) {
  ScopedEnv env("MRD_TUNER_EXAMPLE_CONFIG", config);
  std::unique_ptr<CostAdjuster> a;
  std::string file;
  Status st = loadTunerPlugin(MRD_TUNER_EXAMPLE_PATH, nranks, 1, &a, &file);
  EXPECT_TRUE(st.isOk()) << st.message();
  EXPECT_EQ(file, MRD_TUNER_EXAMPLE_PATH);
  return a;
}

// One getCollInfo through the adapter.
struct Outcome {
  std::vector<double> costs;
  int nchannels = 2;
  size_t chunk = 128 << 10;
  Status status;
};

Outcome adjustOnce(CostAdjuster* a, CollKind kind, size_t bytes,
                   const std::vector<std::string>& names, std::vector<double> costs) {
  Outcome o;
  o.costs = std::move(costs);
  o.status = a->adjust(kind, bytes, names, &o.costs, &o.nchannels, &o.chunk);
  return o;
}

TEST(TunerPluginLoader, CandidateNames) {
  EXPECT_EQ(tunerPluginCandidates("example"),
            (std::vector<std::string>{"libmeridian-tuner-example.so", "example"}));
  EXPECT_EQ(tunerPluginCandidates("/opt/x/libfoo.so"),
            (std::vector<std::string>{"/opt/x/libfoo.so"}));
  EXPECT_EQ(tunerPluginCandidates("./libfoo.so"), (std::vector<std::string>{"./libfoo.so"}));
}

TEST(TunerPluginLoader, CollectiveMapping) {
  EXPECT_EQ(tunerCollOf(CollKind::kAllReduce), MRD_TUNER_ALLREDUCE);
  EXPECT_EQ(tunerCollOf(CollKind::kBroadcast), MRD_TUNER_BROADCAST);
  EXPECT_EQ(tunerCollOf(CollKind::kReduce), MRD_TUNER_REDUCE);
  EXPECT_EQ(tunerCollOf(CollKind::kAllGather), MRD_TUNER_ALLGATHER);
  EXPECT_EQ(tunerCollOf(CollKind::kReduceScatter), MRD_TUNER_REDUCESCATTER);
  EXPECT_EQ(tunerCollOf(CollKind::kAlltoAll), MRD_TUNER_ALLTOALL);
  EXPECT_EQ(tunerCollOf(CollKind::kAlltoAllv), MRD_TUNER_ALLTOALLV);
  EXPECT_EQ(tunerCollOf(CollKind::kGather), MRD_TUNER_GATHER);
  EXPECT_EQ(tunerCollOf(CollKind::kScatter), MRD_TUNER_SCATTER);
  EXPECT_EQ(tunerCollOf(CollKind::kSend), MRD_TUNER_SENDRECV);
  EXPECT_EQ(tunerCollOf(CollKind::kRecv), MRD_TUNER_SENDRECV);
  EXPECT_EQ(tunerCollOf(CollKind::kBarrier), MRD_TUNER_ALLREDUCE);
}

TEST(TunerPluginLoader, ExampleWithoutConfigPrefersRingForLargeAllreduce) {
  auto a = loadExample(nullptr);
  ASSERT_NE(a, nullptr);
  EXPECT_STREQ(a->name(), "example");
  const std::vector<std::string> names = {"direct", "ring", "tree"};
  // Values a float cannot hold exactly: untouched entries keep full precision.
  const std::vector<double> model = {5.000000123, 50.000000123, 20.000000123};
  for (size_t bytes : {size_t{1} << 20, size_t{64} << 20}) {
    Outcome o = adjustOnce(a.get(), CollKind::kAllReduce, bytes, names, model);
    ASSERT_TRUE(o.status.isOk()) << o.status.message();
    EXPECT_EQ(o.costs, (std::vector<double>{model[0], 0.0, model[2]})) << bytes;
    EXPECT_EQ(cheapest(o.costs), 1);
    EXPECT_EQ(o.nchannels, 2);
    EXPECT_EQ(o.chunk, size_t{128} << 10);
  }
  Outcome small = adjustOnce(a.get(), CollKind::kAllReduce, (1 << 20) - 1, names, model);
  ASSERT_TRUE(small.status.isOk());
  EXPECT_EQ(small.costs, model);
  Outcome bcast =
      adjustOnce(a.get(), CollKind::kBroadcast, 64 << 20, {"chain", "ring", "tree"}, model);
  ASSERT_TRUE(bcast.status.isOk());
  EXPECT_EQ(bcast.costs, model);
  // Ring not among the candidates (MRD_ALGO excluded it): nothing changes.
  Outcome noRing = adjustOnce(a.get(), CollKind::kAllReduce, 64 << 20, {"direct", "tree"}, {1, 2});
  ASSERT_TRUE(noRing.status.isOk());
  EXPECT_EQ(noRing.costs, (std::vector<double>{1, 2}));
}

const char* const kConfig =
    "# collective minBytes maxBytes algorithm [nChannels] [chunkBytes]\n"
    "allreduce 0 64K tree 1 24K   # small ones\n"
    "\n"
    "allreduce 64K 1M rabenseifner - 48K\n"
    "allreduce 0 max ring 3\n"
    "AllToAll 0 max bruck\n"
    "* 1K 2K linear 0 0\n"
    "sendrecv 0 max pairwise 1\n";

TEST(TunerPluginLoader, ExampleConfigForcesAlgorithmChannelsAndChunk) {
  TempConfig cfg(kConfig);
  auto a = loadExample(cfg.path().c_str());
  ASSERT_NE(a, nullptr);
  const std::vector<std::string> ar = {"direct", "ring", "tree", "rabenseifner"};
  const std::vector<double> model = {3, 4, 5, 6};

  Outcome o = adjustOnce(a.get(), CollKind::kAllReduce, 4096, ar, model);
  ASSERT_TRUE(o.status.isOk()) << o.status.message();
  EXPECT_EQ(o.costs, (std::vector<double>{3, 4, 0, 6}));
  EXPECT_EQ(o.nchannels, 1);
  EXPECT_EQ(o.chunk, size_t{24} << 10);
  // Ranges are inclusive at both ends; the first rule that matches wins.
  o = adjustOnce(a.get(), CollKind::kAllReduce, 65536, ar, model);
  EXPECT_EQ(cheapest(o.costs), 2);
  o = adjustOnce(a.get(), CollKind::kAllReduce, 65537, ar, model);
  EXPECT_EQ(o.costs, (std::vector<double>{3, 4, 5, 0}));
  EXPECT_EQ(o.nchannels, 2);  // "-": Meridian's
  EXPECT_EQ(o.chunk, size_t{48} << 10);
  // A rule whose algorithm is not a candidate is passed over.
  o = adjustOnce(a.get(), CollKind::kAllReduce, 65537, {"direct", "ring", "tree"}, {3, 4, 5});
  EXPECT_EQ(o.costs, (std::vector<double>{3, 0, 5}));
  EXPECT_EQ(o.nchannels, 3);
  EXPECT_EQ(o.chunk, size_t{128} << 10);
  o = adjustOnce(a.get(), CollKind::kAlltoAll, 8, {"pairwise", "bruck"}, {1, 9});
  EXPECT_EQ(o.costs, (std::vector<double>{1, 0}));
  // '*' matches any collective; 0 keeps Meridian's channels and chunk.
  o = adjustOnce(a.get(), CollKind::kGather, 1500, {"linear"}, {-1});
  EXPECT_EQ(o.costs, (std::vector<double>{0}));
  EXPECT_EQ(o.nchannels, 2);
  o = adjustOnce(a.get(), CollKind::kGather, 3000, {"linear"}, {-1});
  EXPECT_EQ(o.costs, (std::vector<double>{-1}));
  // Send and receive are one kind for the plug-in.
  for (CollKind k : {CollKind::kSend, CollKind::kRecv}) {
    o = adjustOnce(a.get(), k, 100, {"pairwise"}, {7});
    EXPECT_EQ(o.costs, (std::vector<double>{0}));
    EXPECT_EQ(o.nchannels, 1);
  }
}

TEST(TunerPluginLoader, TheTunerFollowsThePlugin) {
  TempConfig cfg(kConfig);
  Tuner t;
  TunerLimits lim;
  lim.maxChannels = 2;
  ASSERT_TRUE(t.init("", &builtinAlgorithms(), lim, 4, 1, 4).isOk());
  auto a = loadExample(cfg.path().c_str());
  ASSERT_NE(a, nullptr);
  t.setAdjuster(std::move(a));
  PlanContext ctx;
  ctx.nranks = 4;
  ctx.nchannels = lim.maxChannels;
  ctx.sliceBytes = lim.chunkBytes;
  CollRequest req;
  req.kind = CollKind::kAllReduce;
  req.type = mrdFloat32;
  req.count = 1024;  // 4 KiB: tree, 1 channel, 24 KiB chunks
  Decision d;
  ASSERT_TRUE(t.choose(req, ctx, true, &d).isOk());
  ASSERT_NE(d.algo, nullptr);
  EXPECT_STREQ(d.algo->name(), "tree");
  EXPECT_EQ(d.nchannels, 1);
  EXPECT_EQ(d.chunkBytes, size_t{24} << 10);
  EXPECT_EQ(d.predictedUs, 0);
  bool sawModel = false;
  for (const auto& [name, us] : d.considered) {
    if (name != "tree" && us > 0) sawModel = true;
  }
  EXPECT_TRUE(sawModel) << "the other candidates keep the model's costs";
  // 2 MiB: "ring 3", clamped to the 2 connected channels.
  req.count = 512 << 10;
  ASSERT_TRUE(t.choose(req, ctx, false, &d).isOk());
  EXPECT_STREQ(d.algo->name(), "ring");
  EXPECT_EQ(d.nchannels, 2);
}

TEST(TunerPluginLoader, BadConfigFailsInitNamingFileAndLine) {
  TempConfig cfg("allreduce 0 1M tree\nallreduce 0 1M\n");
  ScopedEnv env("MRD_TUNER_EXAMPLE_CONFIG", cfg.path().c_str());
  std::unique_ptr<CostAdjuster> a;
  Status st = loadTunerPlugin(MRD_TUNER_EXAMPLE_PATH, 2, 1, &a);
  EXPECT_FALSE(st.isOk());
  EXPECT_EQ(a, nullptr);
  EXPECT_NE(st.message().find("init()"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(MRD_TUNER_EXAMPLE_PATH), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(cfg.path() + ":2"), std::string::npos) << st.message();

  for (const char* bad : {"allreduse 0 1M tree\n", "allreduce 2M 1M tree\n",
                          "allreduce 0 1X tree\n", "allreduce 0 1M tree -3\n",
                          "allreduce 0 1M tree 1 2 3\n"}) {
    TempConfig c(bad);
    ScopedEnv e("MRD_TUNER_EXAMPLE_CONFIG", c.path().c_str());
    st = loadTunerPlugin(MRD_TUNER_EXAMPLE_PATH, 2, 1, &a);
    EXPECT_FALSE(st.isOk()) << bad;
    EXPECT_NE(st.message().find(c.path() + ":1"), std::string::npos) << st.message();
  }
  ScopedEnv missing("MRD_TUNER_EXAMPLE_CONFIG", "/nonexistent/tuner.conf");
  st = loadTunerPlugin(MRD_TUNER_EXAMPLE_PATH, 2, 1, &a);
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("cannot open MRD_TUNER_EXAMPLE_CONFIG /nonexistent/tuner.conf"),
            std::string::npos)
      << st.message();
}

TEST(TunerPluginLoader, MissingFileNamesEveryNameTried) {
  std::unique_ptr<CostAdjuster> a;
  Status st = loadTunerPlugin("/nonexistent/libmeridian-tuner-nothing.so", 2, 1, &a);
  EXPECT_FALSE(st.isOk());
  EXPECT_EQ(a, nullptr);
  EXPECT_NE(st.message().find("MRD_TUNER_PLUGIN=/nonexistent/libmeridian-tuner-nothing.so"),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("No such file"), std::string::npos) << st.message();
  st = loadTunerPlugin("no-such-tuner-anywhere", 2, 1, &a);
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("libmeridian-tuner-no-such-tuner-anywhere.so"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("; no-such-tuner-anywhere"), std::string::npos) << st.message();
}

TEST(TunerPluginLoader, LibraryWithoutTheSymbol) {
  std::unique_ptr<CostAdjuster> a;
  Status st = loadTunerPlugin(MRD_TUNER_NOSYM_PATH, 2, 1, &a);
  EXPECT_FALSE(st.isOk());
  EXPECT_EQ(a, nullptr);
  EXPECT_NE(st.message().find(MRD_TUNER_PLUGIN_SYMBOL_V1), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(MRD_TUNER_NOSYM_PATH), std::string::npos) << st.message();
}

TEST(TunerPluginLoader, NullEntryIsRefused) {
  std::unique_ptr<CostAdjuster> a;
  Status st = loadTunerPlugin(MRD_TUNER_NULLENTRY_PATH, 2, 1, &a);
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("mrdTunerPlugin_v1.getCollInfo is NULL"), std::string::npos)
      << st.message();
}

TEST(TunerPluginLoader, InitFailureCarriesThePluginsReason) {
  std::unique_ptr<CostAdjuster> a;
  Status st = loadTunerPlugin(MRD_TUNER_BADINIT_PATH, 2, 1, &a);
  EXPECT_FALSE(st.isOk());
  EXPECT_EQ(a, nullptr);
  EXPECT_NE(st.message().find("init()"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("no tuning table"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(MRD_TUNER_BADINIT_PATH), std::string::npos) << st.message();
}

TEST(TunerPluginLoader, FailingGetCollInfoFailsTheDecisionAndDestroyRuns) {
  std::unique_ptr<CostAdjuster> a;
  ASSERT_TRUE(loadTunerPlugin(MRD_TUNER_BADCALL_PATH, 2, 1, &a).isOk());
  void* dl = dlopen(MRD_TUNER_BADCALL_PATH, RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(dl, nullptr) << "the loader keeps the library loaded";
  auto* live = static_cast<int*>(dlsym(dl, "mrdTestTunerLive"));
  ASSERT_NE(live, nullptr);
  EXPECT_EQ(*live, 1);

  Tuner t;
  TunerLimits lim;
  ASSERT_TRUE(t.init("", &builtinAlgorithms(), lim, 2, 1, 2).isOk());
  t.setAdjuster(std::move(a));
  PlanContext ctx;
  ctx.nranks = 2;
  ctx.sliceBytes = lim.chunkBytes;
  CollRequest req;
  req.kind = CollKind::kAllReduce;
  req.type = mrdFloat32;
  req.count = 256;
  Decision d;
  Status st = t.choose(req, ctx, false, &d);
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("tuner plug-in badcall"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("getCollInfo(allreduce, 1024 bytes)"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("refusing collective 0 of 1024 bytes"), std::string::npos)
      << st.message();
  t.setAdjuster(nullptr);
  EXPECT_EQ(*live, 0) << "destroy() not called";
  dlclose(dl);
}

// ---- communicators under MRD_TUNER_PLUGIN (separate ctest entries) ----

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The decision line rank 0 logs for an allreduce of `bytes`.
std::string decisionLine(const std::string& log, size_t bytes) {
  std::string key = "allreduce " + std::to_string(bytes) + " bytes: ";
  size_t at = log.find(key);
  if (at == std::string::npos) return "";
  size_t end = log.find('\n', at);
  return log.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// MRD_TUNER_PLUGIN=example (found through LD_LIBRARY_PATH),
// MRD_TUNER_EXAMPLE_CONFIG forcing allreduce 0..1M to tree with 1 channel
// and 24 KiB chunks, MRD_DEBUG=INFO into MRD_DEBUG_FILE: results are right
// and the log shows the plug-in's choice (no built-in rule ever picks a
// 24 KiB chunk, so an ignored plug-in fails this test).
TEST(TunerPluginComm, ForcedChoiceIsUsed) {
  const char* logPattern = std::getenv("MRD_DEBUG_FILE");
  if (std::getenv("MRD_TEST_TUNER_COMM") == nullptr || logPattern == nullptr)
    GTEST_SKIP() << "runs under the tunerplugin.comm.* ctest entry";
  const std::string logPath = log::expandPath(logPattern);
  const std::vector<size_t> counts = {1024, 64 << 10, 512 << 10};  // 4 KiB, 256 KiB, 2 MiB
  mrdtest::spawnRanks(3, [&](int rank, mrdComm_t comm) {
    for (size_t count : counts) {
      std::vector<float> buf(count);
      for (size_t i = 0; i < count; ++i) {
        buf[i] = static_cast<float>(rank + 1) + static_cast<float>(i % 7);
      }
      ASSERT_EQ(mrdAllReduce(buf.data(), buf.data(), count, mrdFloat32, mrdSum, comm, nullptr),
                mrdSuccess)
          << mrdGetLastError(comm);
      size_t wrong = 0;
      for (size_t i = 0; i < count; ++i) {
        if (buf[i] != 6.0f + 3.0f * static_cast<float>(i % 7)) ++wrong;
      }
      EXPECT_EQ(wrong, 0u) << "rank " << rank << " count " << count;
    }
  });
  log::get(log::Subsys::kTune).flush();  // one sink for every subsystem
  const std::string text = readFile(logPath);
  unlink(logPath.c_str());
  EXPECT_NE(text.find("tuner plug-in example loaded from libmeridian-tuner-example.so"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("example tuner: 1 rule(s) from"), std::string::npos) << text;
  for (size_t bytes : {size_t{4} << 10, size_t{256} << 10}) {
    std::string line = decisionLine(text, bytes);
    EXPECT_NE(line.find("bytes: tree channels 1 chunk 24576 "), std::string::npos)
        << "allreduce of " << bytes << " bytes: " << line << "\nlog:\n" << text;
    EXPECT_NE(line.find(" tree=0"), std::string::npos) << line;
  }
  std::string big = decisionLine(text, size_t{2} << 20);
  EXPECT_FALSE(big.empty()) << text;
  EXPECT_EQ(big.find("chunk 24576"), std::string::npos) << "outside the rule's range: " << big;
}

// MRD_TEST_EXPECT_INIT_ERROR: a broken MRD_TUNER_PLUGIN fails every rank's
// init, fast, with a message containing that text.
TEST(TunerPluginComm, BrokenPluginFailsInitWithAClearError) {
  const char* expect = std::getenv("MRD_TEST_EXPECT_INIT_ERROR");
  if (expect == nullptr)
    GTEST_SKIP() << "runs under the tunerplugin_*.TunerPluginComm.* ctest entries";
  mrdtest::expectInitFailsOnEveryRank(3, [&](int rank, const std::string& msg) {
    EXPECT_NE(msg.find("rank " + std::to_string(rank)), std::string::npos) << msg;
    EXPECT_NE(msg.find("MRD_TUNER_PLUGIN="), std::string::npos) << msg;
    EXPECT_NE(msg.find(expect), std::string::npos) << "rank " << rank << ": " << msg;
  });
}

// MRD_TEST_EXPECT_OP_ERROR: init succeeds, every operation fails with that
// text (the plug-in's name) in its error, and the communicator still
// destroys cleanly.
TEST(TunerPluginComm, FailingGetCollInfoFailsTheOperation) {
  const char* expect = std::getenv("MRD_TEST_EXPECT_OP_ERROR");
  if (expect == nullptr) GTEST_SKIP() << "runs under the tunerplugin_badcall.* ctest entry";
  mrdtest::spawnRanks(2, [&](int rank, mrdComm_t comm) {
    std::vector<float> buf(64, 1.0f);
    mrdResult_t rc =
        mrdAllReduce(buf.data(), buf.data(), buf.size(), mrdFloat32, mrdSum, comm, nullptr);
    EXPECT_NE(rc, mrdSuccess) << "rank " << rank;
    std::string msg = mrdGetLastError(comm);
    EXPECT_NE(msg.find(expect), std::string::npos) << "rank " << rank << ": " << msg;
    EXPECT_NE(msg.find("getCollInfo(allreduce, 256 bytes)"), std::string::npos) << msg;
  });
}

}  // namespace
}  // namespace mrd::tuner
