// Tier 2: ranks as forked processes, so the shared-memory transport really
// crosses process boundaries, and the TCP transport is used when the
// environment asks for it (MRD_SHM_DISABLE=1, MRD_TRANSPORTS=tcp).
//
// The parent process never calls into the library (forkRanks), so the
// environment set here before forking reaches every rank.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "meridian/meridian.h"
#include "support/reference.h"
#include "support/thread_ranks.h"

namespace mrdtest {
namespace {

// kBoard: the default transports with MRD_ALGO=board (the shared-memory
// board wherever it fits, the tuner's choice elsewhere).
enum class Transport { kDefault, kShmDisabled, kTcpOnly, kBoard };

const char* transportName(Transport t) {
  switch (t) {
    case Transport::kDefault: return "Default";
    case Transport::kShmDisabled: return "ShmDisabled";
    case Transport::kTcpOnly: return "TransportsTcp";
    case Transport::kBoard: return "Board";
  }
  return "?";
}

enum class Coll { kAllReduce, kAllGather, kAlltoAll, kBroadcast };

const char* collName(Coll c) {
  switch (c) {
    case Coll::kAllReduce: return "AllReduce";
    case Coll::kAllGather: return "AllGather";
    case Coll::kAlltoAll: return "AlltoAll";
    case Coll::kBroadcast: return "Broadcast";
  }
  return "?";
}

struct Case {
  Coll coll;
  mrdDataType_t type;
  size_t count;
  bool inPlace;
  int root;
};

// float32 and int32 at 1, 1031 and about 4 MiB (per-rank blocks of the
// gathering collectives split the 4 MiB), in-place where NCCL defines it.
std::vector<Case> makeCases(int n) {
  std::vector<Case> cases;
  for (Coll c : {Coll::kAllReduce, Coll::kAllGather, Coll::kAlltoAll, Coll::kBroadcast}) {
    for (mrdDataType_t t : {mrdFloat32, mrdInt32}) {
      size_t big = (size_t{4} << 20) / typeSize(t);
      if (c == Coll::kAllGather || c == Coll::kAlltoAll) big /= static_cast<size_t>(n);
      for (size_t count : {size_t{1}, size_t{1031}, big | 1}) {
        for (int inPlace = 0; inPlace < (c == Coll::kAlltoAll ? 1 : 2); ++inPlace) {
          const int root = c == Coll::kBroadcast ? static_cast<int>(count % n) : 0;
          cases.push_back(Case{c, t, count, inPlace != 0, root});
        }
      }
    }
  }
  return cases;
}

std::string describe(const Case& c, int n, int rank) {
  return std::string(collName(c.coll)) + " " + typeName(c.type) + " nranks=" + std::to_string(n) +
         " count=" + std::to_string(c.count) + (c.inPlace ? " in-place" : " out-of-place") +
         (c.coll == Coll::kBroadcast ? " root=" + std::to_string(c.root) : "") + " rank " +
         std::to_string(rank);
}

bool check(const std::string& what, mrdDataType_t t, const Buffer& expected,
           const unsigned char* got, bool byValue) {
  std::string report;
  const size_t count = expected.size() / typeSize(t);
  const size_t bad = compareElems(t, expected.data(), got, count, byValue, &report);
  if (bad == 0) return true;
  ADD_FAILURE() << what << ": " << bad << " of " << count << " elements differ\n" << report;
  return false;
}

// Runs one case on this rank; false if the call failed.
bool runCase(const Case& c, int n, int rank, mrdComm_t comm, uint64_t seed) {
  const mrdDataType_t t = c.type;
  const size_t ts = typeSize(t);
  const size_t un = static_cast<size_t>(n), ur = static_cast<size_t>(rank);
  const std::string what = describe(c, n, rank);
  std::vector<Buffer> in;
  mrdResult_t rc = mrdSuccess;
  switch (c.coll) {
    case Coll::kAllReduce: {
      // The expected sums straight from the pattern (no peer buffers).
      Buffer want(c.count * ts);
      std::vector<double> vals(un);
      for (size_t i = 0; i < c.count; ++i) {
        for (int r = 0; r < n; ++r)
          vals[static_cast<size_t>(r)] = reductionInput(Op::kSum, t, n, r, i);
        storeElem(t, want.data(), i, reduceValues(Op::kSum, t, vals.data(), n));
      }
      Buffer send = makeReductionInput(Op::kSum, t, n, rank, c.count);
      Buffer recv = c.inPlace ? Buffer() : sentinelBuffer(c.count * ts);
      unsigned char* out = c.inPlace ? send.data() : recv.data();
      rc = mrdAllReduce(send.data(), out, c.count, t, mrdSum, comm, nullptr);
      if (rc == mrdSuccess) check(what, t, want, out, true);
      break;
    }
    case Coll::kAllGather: {
      for (int r = 0; r < n; ++r) in.push_back(makeBytes(c.count * ts, seed, r));
      const Buffer want = refAllGather(t, in, c.count);
      Buffer recv = sentinelBuffer(un * c.count * ts);
      Buffer send = in[ur];
      const unsigned char* src = send.data();
      if (c.inPlace) {
        std::copy(send.begin(), send.end(),
                  recv.begin() + static_cast<ptrdiff_t>(ur * send.size()));
        src = recv.data() + ur * send.size();
      }
      rc = mrdAllGather(src, recv.data(), c.count, t, comm, nullptr);
      if (rc == mrdSuccess) check(what, t, want, recv.data(), false);
      break;
    }
    case Coll::kAlltoAll: {
      // Only this rank's input and the blocks it receives from each peer.
      const size_t block = c.count * ts;
      const Buffer send = makeBytes(un * block, seed, rank);
      Buffer want;
      for (int j = 0; j < n; ++j) {
        const Buffer part = makeBytesAt(block, seed, j, ur * block);
        want.insert(want.end(), part.begin(), part.end());
      }
      Buffer recv = sentinelBuffer(un * block);
      rc = mrdAlltoAll(send.data(), recv.data(), c.count, t, comm, nullptr);
      if (rc == mrdSuccess) check(what, t, want, recv.data(), false);
      break;
    }
    case Coll::kBroadcast: {
      const Buffer want = makeBytes(c.count * ts, seed, c.root);
      const bool isRoot = rank == c.root;
      const Buffer send = isRoot ? want : Buffer();
      Buffer recv = c.inPlace && isRoot ? want : sentinelBuffer(c.count * ts);
      const void* src = c.inPlace ? recv.data() : (isRoot ? send.data() : nullptr);
      rc = mrdBroadcast(src, recv.data(), c.count, t, c.root, comm, nullptr);
      if (rc == mrdSuccess) check(what, t, want, recv.data(), false);
      break;
    }
  }
  if (rc != mrdSuccess) {
    ADD_FAILURE() << what << ": returned " << rc << " (" << mrdGetErrorString(rc)
                  << "): " << mrdGetLastError(comm);
    return false;
  }
  return true;
}

std::string readAndRemove(const std::string& path) {
  std::ifstream f(path);
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  unlink(path.c_str());
  return all;
}

struct Param {
  Transport transport;
  int nranks;
};

class ForkCollectivesTest : public ::testing::TestWithParam<Param> {};

TEST_P(ForkCollectivesTest, MatchReference) {
  const Param p = GetParam();
  const int n = p.nranks;
  // INFO logs of the INIT subsystem name the transport chosen per peer.
  char pathTemplate[] = "/tmp/mrd_fork_test_XXXXXX";
  const int tmpFd = mkstemp(pathTemplate);
  ASSERT_GE(tmpFd, 0);
  close(tmpFd);
  const std::string logPath = pathTemplate;
  ScopedEnv debug("MRD_DEBUG", "INFO");
  ScopedEnv subsys("MRD_DEBUG_SUBSYS", "INIT");
  ScopedEnv file("MRD_DEBUG_FILE", nullptr);
  ScopedEnv shm("MRD_SHM_DISABLE", p.transport == Transport::kShmDisabled ? "1" : nullptr);
  ScopedEnv transports("MRD_TRANSPORTS", p.transport == Transport::kTcpOnly ? "tcp" : nullptr);
  ScopedEnv algo("MRD_ALGO", p.transport == Transport::kBoard ? "board" : nullptr);

  const std::vector<Case> cases = makeCases(n);
  mrdConfig_t cfg = testConfig(15000);
  {
    StderrToFile redirect(logPath);
    forkRanks(
        n,
        [&](int rank, mrdComm_t comm) {
          for (size_t k = 0; k < cases.size(); ++k) {
            if (!runCase(cases[k], n, rank, comm, k + 1)) return;
          }
        },
        &cfg, 120000);
  }

  // Which transport the ranks chose (the INIT log names it per peer): shm
  // between local processes by default; tcp only when the environment says
  // so, which also shows that the environment reached the ranks.
  std::string logs = readAndRemove(logPath);
  if (logs.size() > 6000) logs = logs.substr(0, 6000) + "\n...(truncated)";
  if (p.transport == Transport::kBoard) {
    EXPECT_NE(logs.find("through the shm board"), std::string::npos) << "no rank set up the board; logs:\n" << logs;
  }
  if (p.transport == Transport::kDefault || p.transport == Transport::kBoard) {
    EXPECT_NE(logs.find(" via shm"), std::string::npos)
        << "no peer used the shared-memory transport between processes; logs:\n"
        << logs;
  } else {
    EXPECT_EQ(logs.find(" via shm"), std::string::npos)
        << "a rank used shm although " << transportName(p.transport) << " was set:\n"
        << logs;
    EXPECT_NE(logs.find(" via tcp"), std::string::npos)
        << "no log line shows a peer connected via tcp; logs:\n"
        << logs;
  }
}

std::vector<Param> allParams() {
  std::vector<Param> v;
  for (Transport t : {Transport::kDefault, Transport::kShmDisabled, Transport::kTcpOnly, Transport::kBoard}) {
    for (int n : {2, 3, 4}) v.push_back(Param{t, n});
  }
  return v;
}

// A rank whose process ends while the others wait for it on the board:
// they fail naming it long before their timeout (the shm segment's owner
// pid is gone), and a rank whose own wait fails tells the rest at once.
TEST(ForkBoard, APeerThatExitsIsNamedBeforeTheTimeout) {
  ScopedEnv algo("MRD_ALGO", "board");
  mrdConfig_t cfg = testConfig(30000);
  forkRanks(
      3,
      [](int rank, mrdComm_t comm) {
        float x = 1.0f;
        ASSERT_EQ(mrdAllReduce(&x, &x, 1, mrdFloat32, mrdSum, comm, nullptr), mrdSuccess);
        if (rank == 2) _exit(0);  // gone without a word
        const auto t0 = std::chrono::steady_clock::now();
        mrdResult_t rc = mrdAllReduce(&x, &x, 1, mrdFloat32, mrdSum, comm, nullptr);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        EXPECT_EQ(rc, mrdRemoteError) << mrdGetLastError(comm);
        EXPECT_NE(std::string(mrdGetLastError(comm)).find("rank 2"), std::string::npos) << mrdGetLastError(comm);
        EXPECT_LT(ms, 5000);
      },
      &cfg, 60000);
}

INSTANTIATE_TEST_SUITE_P(All, ForkCollectivesTest, ::testing::ValuesIn(allParams()),
                         [](const ::testing::TestParamInfo<Param>& info) {
                           return std::string(transportName(info.param.transport)) + "_" +
                                  std::to_string(info.param.nranks) + "ranks";
                         });

}  // namespace
}  // namespace mrdtest
