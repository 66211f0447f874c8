// Every collective of the public API against the serial reference, with
// threads as ranks: operation x datatype x op x nranks {1,2,3,4,5,6,8} x
// counts {0, 1, 1031, a few MiB for a subset} x out-of-place / in-place
// (NCCL's definitions) x roots.
//
// One test instance is (operation, datatype, nranks); it runs every op,
// count, placement and root on one set of communicators, so the whole
// matrix needs only one communicator set per instance. The inputs and
// expected outputs of each case are computed once (by whichever rank asks
// first) and shared by the ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "meridian/meridian.h"
#include "support/reference.h"
#include "support/thread_ranks.h"

namespace mrdtest {
namespace {

// A broken library fails each operation after this long without progress.
constexpr int kCommTimeoutMs = 10000;

enum class Coll {
  kAllReduce,
  kBroadcast,
  kReduce,
  kAllGather,
  kReduceScatter,
  kAlltoAll,
  kAlltoAllv,
  kGather,
  kScatter,
  kSendRecv,
};

constexpr Coll kAllColls[] = {
    Coll::kAllReduce, Coll::kBroadcast, Coll::kReduce, Coll::kAllGather, Coll::kReduceScatter,
    Coll::kAlltoAll,  Coll::kAlltoAllv, Coll::kGather, Coll::kScatter,   Coll::kSendRecv};

constexpr int kRankCounts[] = {1, 2, 3, 4, 5, 6, 8};

const char* collName(Coll c) {
  switch (c) {
    case Coll::kAllReduce: return "AllReduce";
    case Coll::kBroadcast: return "Broadcast";
    case Coll::kReduce: return "Reduce";
    case Coll::kAllGather: return "AllGather";
    case Coll::kReduceScatter: return "ReduceScatter";
    case Coll::kAlltoAll: return "AlltoAll";
    case Coll::kAlltoAllv: return "AlltoAllv";
    case Coll::kGather: return "Gather";
    case Coll::kScatter: return "Scatter";
    case Coll::kSendRecv: return "SendRecv";
  }
  return "?";
}

bool isReduction(Coll c) {
  return c == Coll::kAllReduce || c == Coll::kReduce || c == Coll::kReduceScatter;
}

// NCCL defines in-place for these five.
bool hasInPlace(Coll c) {
  return c == Coll::kAllReduce || c == Coll::kBroadcast || c == Coll::kReduce ||
         c == Coll::kAllGather || c == Coll::kReduceScatter;
}

// Whether the count is per rank block (buffers hold nranks * count).
bool countIsPerBlock(Coll c) {
  return c == Coll::kAllGather || c == Coll::kReduceScatter || c == Coll::kAlltoAll ||
         c == Coll::kAlltoAllv || c == Coll::kGather || c == Coll::kScatter;
}

struct Param {
  Coll coll;
  mrdDataType_t type;
  int nranks;
};

// The large size runs only for some combinations to keep the suite fast:
// float32 (sum for reductions) on up to 5 ranks, on 8 ranks for AllReduce
// and AllGather only, and a handful of other type/op/rank combos.
bool bigAllowed(const Param& p, Op op) {
  const bool reduction = isReduction(p.coll);
  if (p.type == mrdFloat32 && (!reduction || op == Op::kSum)) {
    if (p.nranks <= 5) return true;
    return p.coll == Coll::kAllReduce || p.coll == Coll::kAllGather;
  }
  if (reduction) {
    return (p.type == mrdBfloat16 && op == Op::kSum && p.nranks == 3) ||
           (p.type == mrdInt32 && op == Op::kMax && p.nranks == 4) ||
           (p.type == mrdFloat64 && op == Op::kAvg && p.nranks == 5) ||
           (p.type == mrdFloat16 && op == Op::kProd && p.nranks == 3) ||
           (p.type == mrdFloat8e4m3 && op == Op::kPreMulSum && p.nranks == 2);
  }
  return (p.type == mrdUint8 && p.nranks == 4) || (p.type == mrdFloat64 && p.nranks == 3);
}

// About 4 MiB of data (odd element counts); per-block collectives split it
// over the ranks so every buffer stays around 4 MiB.
size_t bigCount(const Param& p) {
  size_t elems = (size_t{4} << 20) / typeSize(p.type);
  if (countIsPerBlock(p.coll)) elems /= static_cast<size_t>(p.nranks);
  return elems | 1;
}

struct Case {
  Op op;
  size_t count;
  bool inPlace;
  int root;
};

std::vector<Case> makeCases(const Param& p) {
  std::vector<Case> cases;
  std::vector<Op> ops;
  if (isReduction(p.coll)) {
    ops.assign(std::begin(kAllOps), std::end(kAllOps));
  } else {
    ops.push_back(Op::kSum);  // not used by data movement
  }
  std::vector<int> roots = {0};
  if (p.coll == Coll::kBroadcast) {
    for (int r = 1; r < p.nranks; ++r) roots.push_back(r);
  } else if (p.coll == Coll::kReduce || p.coll == Coll::kGather || p.coll == Coll::kScatter) {
    if (p.nranks > 1) roots.push_back(p.nranks - 1);
  }
  for (Op op : ops) {
    std::vector<size_t> counts = {0, 1, 1031};
    if (bigAllowed(p, op)) counts.push_back(bigCount(p));
    for (size_t count : counts) {
      for (int inPlace = 0; inPlace < (hasInPlace(p.coll) ? 2 : 1); ++inPlace) {
        for (int root : roots) cases.push_back(Case{op, count, inPlace != 0, root});
      }
    }
  }
  return cases;
}

// Inputs of every rank and what each rank must hold afterwards.
struct CaseData {
  std::vector<Buffer> inputs;
  std::vector<Buffer> expected;  // one entry: the same for every rank
  AlltoAllvLayout layout;

  const Buffer& expectedFor(int rank) const {
    return expected.size() == 1 ? expected[0] : expected[static_cast<size_t>(rank)];
  }
};

std::shared_ptr<const CaseData> buildCase(const Param& p, const Case& c, uint64_t seed) {
  auto d = std::make_shared<CaseData>();
  const int n = p.nranks;
  const size_t ts = typeSize(p.type);
  const size_t un = static_cast<size_t>(n);
  auto reductionInputs = [&](size_t elems) {
    for (int r = 0; r < n; ++r) {
      d->inputs.push_back(makeReductionInput(c.op, p.type, n, r, elems));
    }
  };
  auto byteInputs = [&](size_t elems) {
    for (int r = 0; r < n; ++r) d->inputs.push_back(makeBytes(elems * ts, seed, r));
  };
  switch (p.coll) {
    case Coll::kAllReduce:
      reductionInputs(c.count);
      d->expected.push_back(refAllReduce(c.op, p.type, d->inputs, c.count));
      break;
    case Coll::kReduce:
      reductionInputs(c.count);
      d->expected.push_back(refReduce(c.op, p.type, d->inputs, c.count));
      break;
    case Coll::kReduceScatter:
      reductionInputs(c.count * un);
      d->expected = refReduceScatter(c.op, p.type, d->inputs, c.count);
      break;
    case Coll::kBroadcast:
      byteInputs(c.count);
      d->expected.push_back(refBroadcast(p.type, d->inputs, c.count, c.root));
      break;
    case Coll::kAllGather:
      byteInputs(c.count);
      d->expected.push_back(refAllGather(p.type, d->inputs, c.count));
      break;
    case Coll::kAlltoAll:
      byteInputs(c.count * un);
      d->expected = refAlltoAll(p.type, d->inputs, c.count);
      break;
    case Coll::kAlltoAllv:
      d->layout = makeAlltoAllvLayout(n, c.count);
      for (int r = 0; r < n; ++r) {
        d->inputs.push_back(makeBytes(d->layout.sendElems[static_cast<size_t>(r)] * ts, seed, r));
      }
      d->expected = refAlltoAllv(p.type, d->inputs, d->layout);
      break;
    case Coll::kGather:
      byteInputs(c.count);
      d->expected.push_back(refGather(p.type, d->inputs, c.count));
      break;
    case Coll::kScatter:
      byteInputs(c.count * un);
      d->expected = refScatter(p.type, d->inputs[static_cast<size_t>(c.root)], n, c.count);
      break;
    case Coll::kSendRecv:
      byteInputs(c.count);
      d->expected = refRingSendRecv(p.type, d->inputs, c.count);
      break;
  }
  return d;
}

// Case data shared by the ranks: built by the first rank that asks, freed
// when every rank has released it.
class CaseCache {
 public:
  CaseCache(const Param& p, const std::vector<Case>& cases) : p_(p), cases_(cases) {}

  std::shared_ptr<const CaseData> acquire(size_t k) {
    std::shared_ptr<Slot> s;
    {
      std::lock_guard<std::mutex> g(mu_);
      std::shared_ptr<Slot>& slot = slots_[k];
      if (!slot) slot = std::make_shared<Slot>();
      s = slot;
    }
    std::call_once(s->once, [&] { s->data = buildCase(p_, cases_[k], k + 1); });
    return s->data;
  }

  void release(size_t k) {
    std::lock_guard<std::mutex> g(mu_);
    auto it = slots_.find(k);
    if (it != slots_.end() && ++it->second->released == p_.nranks) slots_.erase(it);
  }

 private:
  struct Slot {
    std::once_flag once;
    std::shared_ptr<const CaseData> data;
    int released = 0;
  };
  const Param p_;
  const std::vector<Case>& cases_;
  std::mutex mu_;
  std::map<size_t, std::shared_ptr<Slot>> slots_;
};

std::string describe(const Param& p, const Case& c, int rank) {
  std::string s = std::string(collName(p.coll)) + " " + typeName(p.type);
  if (isReduction(p.coll)) s += std::string(" ") + opName(c.op);
  s += " nranks=" + std::to_string(p.nranks) + " count=" + std::to_string(c.count);
  s += c.inPlace ? " in-place" : " out-of-place";
  if (p.coll == Coll::kBroadcast || p.coll == Coll::kReduce || p.coll == Coll::kGather ||
      p.coll == Coll::kScatter) {
    s += " root=" + std::to_string(c.root);
  }
  return s + " rank " + std::to_string(rank);
}

// Checks count elements of got against expected; returns whether they match.
bool checkElems(const std::string& what, mrdDataType_t t, const unsigned char* expected,
                const unsigned char* got, size_t count, bool byValue) {
  std::string report;
  size_t bad = compareElems(t, expected, got, count, byValue, &report);
  if (bad == 0) return true;
  ADD_FAILURE() << what << ": " << bad << " of " << count << " elements differ\n" << report;
  return false;
}

bool checkBuffer(const std::string& what, mrdDataType_t t, const Buffer& expected,
                 const unsigned char* got, bool byValue) {
  return checkElems(what, t, expected.data(), got, expected.size() / typeSize(t), byValue);
}

// Runs case c on this rank. Returns false if the call itself failed (the
// ranks may then be out of step, so the caller stops).
bool runCase(const Param& p, const Case& c, const CaseData& d, int rank, mrdComm_t comm,
             mrdRedOp_t premul) {
  const mrdDataType_t t = p.type;
  const size_t ts = typeSize(t);
  const size_t n = static_cast<size_t>(p.nranks);
  const size_t ur = static_cast<size_t>(rank);
  const size_t count = c.count;
  const bool isRoot = rank == c.root;
  const mrdRedOp_t op = c.op == Op::kPreMulSum ? premul : builtinOp(c.op);
  const Buffer& input = d.inputs[ur];
  auto what = [&](const char* buffer) { return describe(p, c, rank) + " " + buffer; };
  mrdResult_t rc = mrdSuccess;

  switch (p.coll) {
    case Coll::kAllReduce: {
      Buffer send = input;
      if (c.inPlace) {
        rc = mrdAllReduce(send.data(), send.data(), count, t, op, comm, nullptr);
        if (rc == mrdSuccess) checkBuffer(what("buff"), t, d.expectedFor(rank), send.data(), true);
      } else {
        Buffer recv = sentinelBuffer(count * ts);
        rc = mrdAllReduce(send.data(), recv.data(), count, t, op, comm, nullptr);
        if (rc == mrdSuccess) {
          checkBuffer(what("recvbuff"), t, d.expectedFor(rank), recv.data(), true);
          checkBuffer(what("sendbuff (must be unchanged)"), t, input, send.data(), false);
        }
      }
      break;
    }
    case Coll::kBroadcast: {
      if (c.inPlace) {
        Buffer buf = isRoot ? input : sentinelBuffer(count * ts);
        rc = mrdBroadcast(buf.data(), buf.data(), count, t, c.root, comm, nullptr);
        if (rc == mrdSuccess) checkBuffer(what("buff"), t, d.expectedFor(rank), buf.data(), false);
      } else {
        Buffer send = input;
        Buffer recv = sentinelBuffer(count * ts);
        rc = mrdBroadcast(isRoot ? send.data() : nullptr, recv.data(), count, t, c.root, comm,
                          nullptr);
        if (rc == mrdSuccess) {
          checkBuffer(what("recvbuff"), t, d.expectedFor(rank), recv.data(), false);
          checkBuffer(what("sendbuff (must be unchanged)"), t, input, send.data(), false);
        }
      }
      break;
    }
    case Coll::kReduce: {
      Buffer send = input;
      if (c.inPlace) {
        rc = mrdReduce(send.data(), send.data(), count, t, op, c.root, comm, nullptr);
        if (rc == mrdSuccess) {
          if (isRoot) {
            checkBuffer(what("buff"), t, d.expectedFor(rank), send.data(), true);
          } else {
            checkBuffer(what("non-root buff (its sendbuff: must be unchanged)"), t, input,
                        send.data(), false);
          }
        }
      } else {
        Buffer recv = sentinelBuffer(isRoot ? count * ts : 0);
        rc = mrdReduce(send.data(), isRoot ? recv.data() : nullptr, count, t, op, c.root, comm,
                       nullptr);
        if (rc == mrdSuccess) {
          if (isRoot) checkBuffer(what("recvbuff"), t, d.expectedFor(rank), recv.data(), true);
          checkBuffer(what("sendbuff (must be unchanged)"), t, input, send.data(), false);
        }
      }
      break;
    }
    case Coll::kAllGather: {
      const size_t bytes = count * ts;
      if (c.inPlace) {
        Buffer buf = sentinelBuffer(n * bytes);
        std::copy(input.begin(), input.end(), buf.begin() + static_cast<ptrdiff_t>(ur * bytes));
        rc = mrdAllGather(buf.data() + ur * bytes, buf.data(), count, t, comm, nullptr);
        if (rc == mrdSuccess) checkBuffer(what("buff"), t, d.expectedFor(rank), buf.data(), false);
      } else {
        Buffer send = input;
        Buffer recv = sentinelBuffer(n * bytes);
        rc = mrdAllGather(send.data(), recv.data(), count, t, comm, nullptr);
        if (rc == mrdSuccess) {
          checkBuffer(what("recvbuff"), t, d.expectedFor(rank), recv.data(), false);
          checkBuffer(what("sendbuff (must be unchanged)"), t, input, send.data(), false);
        }
      }
      break;
    }
    case Coll::kReduceScatter: {
      const size_t bytes = count * ts;
      Buffer send = input;
      if (c.inPlace) {
        rc = mrdReduceScatter(send.data(), send.data() + ur * bytes, count, t, op, comm, nullptr);
        if (rc == mrdSuccess) {
          checkBuffer(what("buff block of this rank"), t, d.expectedFor(rank),
                      send.data() + ur * bytes, true);
        }
      } else {
        Buffer recv = sentinelBuffer(bytes);
        rc = mrdReduceScatter(send.data(), recv.data(), count, t, op, comm, nullptr);
        if (rc == mrdSuccess) {
          checkBuffer(what("recvbuff"), t, d.expectedFor(rank), recv.data(), true);
          checkBuffer(what("sendbuff (must be unchanged)"), t, input, send.data(), false);
        }
      }
      break;
    }
    case Coll::kAlltoAll: {
      Buffer send = input;
      Buffer recv = sentinelBuffer(n * count * ts);
      rc = mrdAlltoAll(send.data(), recv.data(), count, t, comm, nullptr);
      if (rc == mrdSuccess) {
        checkBuffer(what("recvbuff"), t, d.expectedFor(rank), recv.data(), false);
        checkBuffer(what("sendbuff (must be unchanged)"), t, input, send.data(), false);
      }
      break;
    }
    case Coll::kAlltoAllv: {
      const AlltoAllvLayout& l = d.layout;
      std::vector<size_t> sendcounts(n), recvcounts(n);
      for (size_t j = 0; j < n; ++j) {
        sendcounts[j] = l.counts[ur][j];
        recvcounts[j] = l.counts[j][ur];
      }
      Buffer send = input;
      Buffer recv = sentinelBuffer(l.recvElems[ur] * ts);
      rc = mrdAlltoAllv(send.data(), sendcounts.data(), l.sdispls[ur].data(), recv.data(),
                        recvcounts.data(), l.rdispls[ur].data(), t, comm, nullptr);
      if (rc == mrdSuccess) {
        checkBuffer(what("recvbuff (gaps between blocks must keep the sentinel)"), t,
                    d.expectedFor(rank), recv.data(), false);
        checkBuffer(what("sendbuff (must be unchanged)"), t, input, send.data(), false);
      }
      break;
    }
    case Coll::kGather: {
      Buffer send = input;
      Buffer recv = sentinelBuffer(isRoot ? n * count * ts : 0);
      rc = mrdGather(send.data(), isRoot ? recv.data() : nullptr, count, t, c.root, comm, nullptr);
      if (rc == mrdSuccess) {
        if (isRoot) checkBuffer(what("recvbuff"), t, d.expectedFor(rank), recv.data(), false);
        checkBuffer(what("sendbuff (must be unchanged)"), t, input, send.data(), false);
      }
      break;
    }
    case Coll::kScatter: {
      Buffer send = input;
      Buffer recv = sentinelBuffer(count * ts);
      rc = mrdScatter(isRoot ? send.data() : nullptr, recv.data(), count, t, c.root, comm, nullptr);
      if (rc == mrdSuccess) {
        checkBuffer(what("recvbuff"), t, d.expectedFor(rank), recv.data(), false);
        checkBuffer(what("sendbuff (must be unchanged)"), t, input, send.data(), false);
      }
      break;
    }
    case Coll::kSendRecv: {
      Buffer send = input;
      Buffer recv = sentinelBuffer(count * ts);
      const int next = (rank + 1) % p.nranks;
      const int prev = (rank + p.nranks - 1) % p.nranks;
      EXPECT_EQ(mrdGroupStart(), mrdSuccess);
      mrdResult_t s = mrdSend(send.data(), count, t, next, comm, nullptr);
      mrdResult_t r = mrdRecv(recv.data(), count, t, prev, comm, nullptr);
      rc = mrdGroupEnd();
      EXPECT_EQ(s, mrdSuccess) << what("mrdSend") << ": " << mrdGetLastError(comm);
      EXPECT_EQ(r, mrdSuccess) << what("mrdRecv") << ": " << mrdGetLastError(comm);
      if (s != mrdSuccess || r != mrdSuccess) return false;
      if (rc == mrdSuccess) {
        checkBuffer(what("recvbuff"), t, d.expectedFor(rank), recv.data(), false);
        checkBuffer(what("sendbuff (must be unchanged)"), t, input, send.data(), false);
      }
      break;
    }
  }
  if (rc != mrdSuccess) {
    ADD_FAILURE() << describe(p, c, rank) << ": returned " << rc << " (" << mrdGetErrorString(rc)
                  << "): " << mrdGetLastError(comm);
    return false;
  }
  return true;
}

class CollectivesTest : public ::testing::TestWithParam<Param> {};

TEST_P(CollectivesTest, MatchesReference) {
  const Param p = GetParam();
  const std::vector<Case> cases = makeCases(p);
  CaseCache cache(p, cases);
  mrdConfig_t cfg = testConfig(kCommTimeoutMs);
  spawnRanks(
      p.nranks,
      [&](int rank, mrdComm_t comm) {
        mrdRedOp_t premul = mrdNumOps;
        const bool reduction = isReduction(p.coll);
        if (reduction) {
          Buffer scalar = preMulScalarBytes(p.type);
          ASSERT_EQ(
              mrdRedOpCreatePreMulSum(&premul, scalar.data(), p.type, mrdScalarHostImmediate, comm),
              mrdSuccess)
              << "rank " << rank << ": " << mrdGetLastError(comm);
        }
        for (size_t k = 0; k < cases.size(); ++k) {
          std::shared_ptr<const CaseData> d = cache.acquire(k);
          const bool ok = runCase(p, cases[k], *d, rank, comm, premul);
          cache.release(k);
          if (!ok) return;  // the ranks are out of step now
        }
        if (reduction) {
          EXPECT_EQ(mrdRedOpDestroy(premul, comm), mrdSuccess) << mrdGetLastError(comm);
        }
      },
      &cfg);
}

std::vector<Param> allParams() {
  std::vector<Param> v;
  for (Coll c : kAllColls) {
    for (mrdDataType_t t : kAllTypes) {
      for (int n : kRankCounts) v.push_back(Param{c, t, n});
    }
  }
  return v;
}

std::string paramName(const ::testing::TestParamInfo<Param>& info) {
  return std::string(collName(info.param.coll)) + "_" + typeName(info.param.type) + "_" +
         std::to_string(info.param.nranks) + "ranks";
}

INSTANTIATE_TEST_SUITE_P(All, CollectivesTest, ::testing::ValuesIn(allParams()), paramName);

// Barrier: no rank leaves round k before every rank has entered it.
class BarrierTest : public ::testing::TestWithParam<int> {};

TEST_P(BarrierTest, NoRankLeavesEarly) {
  const int n = GetParam();
  constexpr int kRounds = 5;
  std::atomic<int> arrived{0};
  mrdConfig_t cfg = testConfig(kCommTimeoutMs);
  spawnRanks(
      n,
      [&](int rank, mrdComm_t comm) {
        for (int k = 0; k < kRounds; ++k) {
          // Stagger arrivals so an early exit would be visible.
          if ((rank + k) % 3 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
          arrived.fetch_add(1);
          mrdResult_t rc = mrdBarrier(comm, nullptr);
          ASSERT_EQ(rc, mrdSuccess)
              << "rank " << rank << " round " << k << ": " << mrdGetLastError(comm);
          EXPECT_GE(arrived.load(), (k + 1) * n)
              << "rank " << rank << " left barrier round " << k << " before all arrived";
        }
      },
      &cfg);
}

INSTANTIATE_TEST_SUITE_P(All, BarrierTest, ::testing::ValuesIn(kRankCounts),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param) + "ranks";
                         });

}  // namespace
}  // namespace mrdtest
