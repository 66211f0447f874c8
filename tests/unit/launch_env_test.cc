// readLaunchEnv, the MRD_UNIQUE_ID text form and parseHostPort. Each test
// starts from an environment with every launcher variable removed (the suite
// may itself run under srun or mpirun) and puts the originals back after.
#include "core/launch_env.h"

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace mrd {
namespace {

const char* const kAllVars[] = {
    "MRD_RANK",
    "MRD_WORLD_SIZE",
    "MRD_LOCAL_RANK",
    "MRD_LOCAL_SIZE",
    "MRD_UNIQUE_ID",
    "MRD_COMM_ID",
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "LOCAL_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "OMPI_COMM_WORLD_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "OMPI_COMM_WORLD_LOCAL_SIZE",
    "PMI_RANK",
    "PMI_SIZE",
    "MPI_LOCALRANKID",
    "MPI_LOCALNRANKS",
    "SLURM_PROCID",
    "SLURM_NTASKS",
    "SLURM_LOCALID",
};

class LaunchEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kAllVars) {
      const char* v = std::getenv(name);
      saved_[name] = v != nullptr ? std::optional<std::string>(v) : std::nullopt;
      unsetenv(name);
    }
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }
  static void set(const char* name, const char* value) { setenv(name, value, 1); }

  // Reads the environment expecting an mrdInvalidUsage that mentions `text`.
  static void expectUsageError(const std::string& text) {
    LaunchInfo info;
    Status st = readLaunchEnv(&info);
    EXPECT_EQ(st.code(), mrdInvalidUsage) << st.message();
    EXPECT_NE(st.message().find(text), std::string::npos)
        << "message '" << st.message() << "' does not mention '" << text << "'";
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

mrdUniqueId patternId() {
  mrdUniqueId id;
  for (int i = 0; i < MRD_UNIQUE_ID_BYTES; ++i) id.internal[i] = static_cast<char>(i * 37 + 11);
  return id;
}

TEST_F(LaunchEnvTest, NoLauncherIsAnErrorThatNamesTheVariables) {
  expectUsageError("MRD_RANK");
  expectUsageError("SLURM_PROCID");
}

TEST_F(LaunchEnvTest, MrdrunWithUniqueId) {
  mrdUniqueId id = patternId();
  set("MRD_RANK", "2");
  set("MRD_WORLD_SIZE", "4");
  set("MRD_LOCAL_RANK", "2");
  set("MRD_LOCAL_SIZE", "4");
  set("MRD_UNIQUE_ID", uniqueIdToString(id).c_str());
  LaunchInfo info;
  Status st = readLaunchEnv(&info);
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_EQ(info.source, "mrdrun");
  EXPECT_EQ(info.rank, 2);
  EXPECT_EQ(info.nranks, 4);
  EXPECT_EQ(info.localRank, 2);
  EXPECT_EQ(info.localSize, 4);
  ASSERT_TRUE(info.haveUniqueId);
  EXPECT_EQ(0, memcmp(info.uniqueId.internal, id.internal, MRD_UNIQUE_ID_BYTES));
}

TEST_F(LaunchEnvTest, TorchrunWithMasterAddr) {
  set("RANK", "1");
  set("WORLD_SIZE", "2");
  set("LOCAL_RANK", "1");
  set("LOCAL_WORLD_SIZE", "2");
  set("MASTER_ADDR", "node7.cluster");
  set("MASTER_PORT", "29500");
  LaunchInfo info;
  Status st = readLaunchEnv(&info);
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_EQ(info.source, "torchrun");
  EXPECT_EQ(info.rank, 1);
  EXPECT_EQ(info.nranks, 2);
  EXPECT_EQ(info.localRank, 1);
  EXPECT_EQ(info.localSize, 2);
  EXPECT_FALSE(info.haveUniqueId);
  EXPECT_EQ(info.rootHost, "node7.cluster");
  EXPECT_EQ(info.rootPort, 29500);
}

TEST_F(LaunchEnvTest, OpenMpiWithCommId) {
  set("OMPI_COMM_WORLD_RANK", "3");
  set("OMPI_COMM_WORLD_SIZE", "8");
  set("OMPI_COMM_WORLD_LOCAL_RANK", "1");
  set("OMPI_COMM_WORLD_LOCAL_SIZE", "2");
  set("MRD_COMM_ID", "10.1.2.3:5000");
  LaunchInfo info;
  Status st = readLaunchEnv(&info);
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_EQ(info.source, "openmpi");
  EXPECT_EQ(info.rank, 3);
  EXPECT_EQ(info.nranks, 8);
  EXPECT_EQ(info.localRank, 1);
  EXPECT_EQ(info.localSize, 2);
  EXPECT_EQ(info.rootHost, "10.1.2.3");
  EXPECT_EQ(info.rootPort, 5000);
}

TEST_F(LaunchEnvTest, HydraLocalRankIsOptional) {
  set("PMI_RANK", "0");
  set("PMI_SIZE", "3");
  set("MRD_COMM_ID", "localhost:6000");
  LaunchInfo info;
  Status st = readLaunchEnv(&info);
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_EQ(info.source, "hydra");
  EXPECT_EQ(info.rank, 0);
  EXPECT_EQ(info.nranks, 3);
  EXPECT_EQ(info.localRank, -1);
  EXPECT_EQ(info.localSize, -1);

  set("MPI_LOCALRANKID", "2");
  st = readLaunchEnv(&info);
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_EQ(info.localRank, 2);
}

TEST_F(LaunchEnvTest, Slurm) {
  set("SLURM_PROCID", "5");
  set("SLURM_NTASKS", "6");
  set("SLURM_LOCALID", "1");
  set("MASTER_ADDR", "[fe80::1]");
  set("MASTER_PORT", "1234");
  LaunchInfo info;
  Status st = readLaunchEnv(&info);
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_EQ(info.source, "slurm");
  EXPECT_EQ(info.rank, 5);
  EXPECT_EQ(info.nranks, 6);
  EXPECT_EQ(info.localRank, 1);
  EXPECT_EQ(info.rootHost, "fe80::1");
  EXPECT_EQ(info.rootPort, 1234);
}

TEST_F(LaunchEnvTest, PrecedenceFollowsTheLauncherOrder) {
  set("MRD_COMM_ID", "h:1");
  set("SLURM_PROCID", "4");
  set("SLURM_NTASKS", "5");
  LaunchInfo info;
  ASSERT_TRUE(readLaunchEnv(&info).isOk());
  EXPECT_EQ(info.source, "slurm");

  set("PMI_RANK", "3");
  set("PMI_SIZE", "5");
  ASSERT_TRUE(readLaunchEnv(&info).isOk());
  EXPECT_EQ(info.source, "hydra");
  EXPECT_EQ(info.rank, 3);

  set("OMPI_COMM_WORLD_RANK", "2");
  set("OMPI_COMM_WORLD_SIZE", "5");
  ASSERT_TRUE(readLaunchEnv(&info).isOk());
  EXPECT_EQ(info.source, "openmpi");
  EXPECT_EQ(info.rank, 2);

  set("RANK", "1");
  set("WORLD_SIZE", "5");
  ASSERT_TRUE(readLaunchEnv(&info).isOk());
  EXPECT_EQ(info.source, "torchrun");
  EXPECT_EQ(info.rank, 1);

  set("MRD_RANK", "0");
  set("MRD_WORLD_SIZE", "2");
  ASSERT_TRUE(readLaunchEnv(&info).isOk());
  EXPECT_EQ(info.source, "mrdrun");
  EXPECT_EQ(info.rank, 0);
  EXPECT_EQ(info.nranks, 2);
}

TEST_F(LaunchEnvTest, RendezvousPrecedence) {
  set("MRD_RANK", "0");
  set("MRD_WORLD_SIZE", "1");
  set("MASTER_ADDR", "master");
  set("MASTER_PORT", "100");
  LaunchInfo info;
  ASSERT_TRUE(readLaunchEnv(&info).isOk());
  EXPECT_EQ(info.rootHost, "master");
  EXPECT_EQ(info.rootPort, 100);

  set("MRD_COMM_ID", "commhost:200");
  ASSERT_TRUE(readLaunchEnv(&info).isOk());
  EXPECT_EQ(info.rootHost, "commhost");
  EXPECT_EQ(info.rootPort, 200);
  EXPECT_FALSE(info.haveUniqueId);

  set("MRD_UNIQUE_ID", uniqueIdToString(patternId()).c_str());
  ASSERT_TRUE(readLaunchEnv(&info).isOk());
  EXPECT_TRUE(info.haveUniqueId);
}

TEST_F(LaunchEnvTest, MissingRendezvousNamesWhatToSet) {
  set("RANK", "0");
  set("WORLD_SIZE", "2");
  expectUsageError("MRD_UNIQUE_ID");
  expectUsageError("MRD_COMM_ID");
  expectUsageError("MASTER_ADDR");
  set("MASTER_ADDR", "h");
  expectUsageError("MASTER_PORT");
  unsetenv("MASTER_ADDR");
  set("MASTER_PORT", "29500");
  expectUsageError("MASTER_ADDR");
}

TEST_F(LaunchEnvTest, MalformedIntegersNameTheVariable) {
  set("MRD_COMM_ID", "h:1");
  set("WORLD_SIZE", "4");
  for (const char* bad : {"abc", "1x", " 1", "1 ", "0x1", "1.5", "-", "99999999999999999999"}) {
    set("RANK", bad);
    expectUsageError(std::string("RANK=") + bad);
  }
  set("RANK", "1");
  set("WORLD_SIZE", "four");
  expectUsageError("WORLD_SIZE=four is not an integer");
  set("WORLD_SIZE", "4");
  set("LOCAL_RANK", "x");
  expectUsageError("LOCAL_RANK=x");
}

TEST_F(LaunchEnvTest, RankOutOfRange) {
  set("MRD_COMM_ID", "h:1");
  set("OMPI_COMM_WORLD_SIZE", "4");
  set("OMPI_COMM_WORLD_RANK", "4");
  expectUsageError("OMPI_COMM_WORLD_RANK=4");
  set("OMPI_COMM_WORLD_RANK", "-1");
  expectUsageError("OMPI_COMM_WORLD_RANK=-1");
  set("OMPI_COMM_WORLD_RANK", "0");
  set("OMPI_COMM_WORLD_SIZE", "0");
  expectUsageError("OMPI_COMM_WORLD_SIZE=0");
  set("OMPI_COMM_WORLD_SIZE", "4");
  set("OMPI_COMM_WORLD_LOCAL_SIZE", "2");
  set("OMPI_COMM_WORLD_LOCAL_RANK", "2");
  expectUsageError("OMPI_COMM_WORLD_LOCAL_RANK=2");
}

TEST_F(LaunchEnvTest, HalfALauncherIsAnError) {
  set("MRD_COMM_ID", "h:1");
  set("PMI_RANK", "0");
  expectUsageError("PMI_SIZE");
  unsetenv("PMI_RANK");
  set("SLURM_NTASKS", "2");
  expectUsageError("SLURM_PROCID");
}

TEST_F(LaunchEnvTest, EmptyValueCountsAsUnset) {
  set("MRD_RANK", "");
  set("MRD_WORLD_SIZE", "");
  set("RANK", "0");
  set("WORLD_SIZE", "1");
  set("MRD_UNIQUE_ID", "");
  set("MRD_COMM_ID", "h:9");
  LaunchInfo info;
  Status st = readLaunchEnv(&info);
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_EQ(info.source, "torchrun");
  EXPECT_FALSE(info.haveUniqueId);
  EXPECT_EQ(info.rootPort, 9);
}

TEST_F(LaunchEnvTest, MalformedRendezvous) {
  set("MRD_RANK", "0");
  set("MRD_WORLD_SIZE", "1");
  set("MRD_UNIQUE_ID", "abcd");
  expectUsageError("MRD_UNIQUE_ID");
  unsetenv("MRD_UNIQUE_ID");
  set("MRD_COMM_ID", "host-without-port");
  expectUsageError("MRD_COMM_ID=host-without-port");
  set("MRD_COMM_ID", "host:0");
  expectUsageError("MRD_COMM_ID=host:0");
  unsetenv("MRD_COMM_ID");
  set("MASTER_ADDR", "h");
  set("MASTER_PORT", "http");
  expectUsageError("MASTER_PORT=http");
  set("MASTER_PORT", "65536");
  expectUsageError("MASTER_PORT=65536");
}

TEST(UniqueIdText, RoundTrip) {
  mrdUniqueId id = patternId();
  std::string text = uniqueIdToString(id);
  ASSERT_EQ(text.size(), 2u * MRD_UNIQUE_ID_BYTES);
  EXPECT_EQ(text.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(text.substr(0, 4), "0b30");  // bytes 11, 48
  mrdUniqueId back;
  ASSERT_TRUE(uniqueIdFromString(text, &back).isOk());
  EXPECT_EQ(0, memcmp(id.internal, back.internal, MRD_UNIQUE_ID_BYTES));

  // Every byte value survives, and upper-case input is accepted too.
  for (int i = 0; i < MRD_UNIQUE_ID_BYTES; ++i) id.internal[i] = static_cast<char>(255 - i);
  std::string upper = uniqueIdToString(id);
  for (char& c : upper) c = static_cast<char>(toupper(c));
  ASSERT_TRUE(uniqueIdFromString(upper, &back).isOk());
  EXPECT_EQ(0, memcmp(id.internal, back.internal, MRD_UNIQUE_ID_BYTES));
}

TEST(UniqueIdText, Rejects) {
  mrdUniqueId id = patternId();
  mrdUniqueId untouched = id;
  std::string good = uniqueIdToString(id);
  EXPECT_EQ(uniqueIdFromString("", &id).code(), mrdInvalidUsage);
  EXPECT_EQ(uniqueIdFromString(good.substr(1), &id).code(), mrdInvalidUsage);
  EXPECT_EQ(uniqueIdFromString(good + "0", &id).code(), mrdInvalidUsage);
  std::string bad = good;
  bad[100] = 'g';
  Status st = uniqueIdFromString(bad, &id);
  EXPECT_EQ(st.code(), mrdInvalidUsage);
  EXPECT_NE(st.message().find("100"), std::string::npos) << st.message();
  EXPECT_EQ(0, memcmp(id.internal, untouched.internal, MRD_UNIQUE_ID_BYTES));
}

TEST(ParseHostPort, Accepts) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(parseHostPort("127.0.0.1:5000", &host, &port).isOk());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 5000);
  ASSERT_TRUE(parseHostPort("node-12.example.org:1", &host, &port).isOk());
  EXPECT_EQ(host, "node-12.example.org");
  EXPECT_EQ(port, 1);
  ASSERT_TRUE(parseHostPort("[::1]:65535", &host, &port).isOk());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 65535);
  ASSERT_TRUE(parseHostPort("[fe80::1%eth0]:29500", &host, &port).isOk());
  EXPECT_EQ(host, "fe80::1%eth0");
  EXPECT_EQ(port, 29500);
}

TEST(ParseHostPort, Rejects) {
  for (const char* bad :
       {"", "host", "host:", ":5000", "host:0", "host:65536", "host:-1", "host:12ab", "host: 80",
        "host:100000", "::1:5000", "[::1]", "[::1]5000", "[::1:5000", "[]:5000"}) {
    std::string host = "unchanged";
    int port = 7;
    Status st = parseHostPort(bad, &host, &port);
    EXPECT_EQ(st.code(), mrdInvalidUsage) << "'" << bad << "' was accepted";
    EXPECT_EQ(host, "unchanged") << bad;
    EXPECT_EQ(port, 7) << bad;
  }
}

}  // namespace
}  // namespace mrd
