// The tuner's measured trials (src/tuner/trials.h): which candidates are
// tried, in what order, how the ranks' votes settle a size, and, on live
// communicators, that the ranks stay in step through trials, groups and
// the agreement (a rank that ran a different algorithm would hang or
// compute garbage).
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/algorithm.h"
#include "log/log.h"
#include "support/thread_ranks.h"
#include "tuner/trials.h"

namespace mrd::tuner {
namespace {

// The trials are opt-in (MRD_AUTOTUNE=1): on for this whole binary, set
// before main() so it is in place when the library reads its parameters.
struct TrialsOn {
  TrialsOn() { setenv("MRD_AUTOTUNE", "1", 1); }
} trialsOn;

TrialConfig enabledConfig(int rounds = 2) {
  TrialConfig c;
  c.enabled = true;
  c.rounds = rounds;
  return c;
}

TEST(TrialCandidates, BestPredictedFirstWithinFactorAtMostFour) {
  TrialConfig c = enabledConfig();
  // Registry order: 0..5. Unusable (-1) never tried; 100 is beyond 4x 10.
  std::vector<double> costs = {30, -1, 10, 100, 20, 12};
  EXPECT_EQ(Trials::candidates(costs, c), (std::vector<int>{2, 5, 4, 0}));
  c.maxCandidates = 2;
  EXPECT_EQ(Trials::candidates(costs, c), (std::vector<int>{2, 5}));
  c.maxCandidates = 4;
  c.withinFactor = 1.5;
  EXPECT_EQ(Trials::candidates(costs, c), (std::vector<int>{2, 5}));
  // Equal predictions keep registry order.
  EXPECT_EQ(Trials::candidates({5, 5, 5}, c), (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(Trials::candidates({-1, -1}, c).empty());
}

TEST(TrialCandidates, LowestSumWinsIfClearlyFasterThanTheModelsPick) {
  EXPECT_EQ(Trials::winner({30, 10, 20}, 1.0), 1);
  EXPECT_EQ(Trials::winner({10, 10, 5, 5}, 1.0), 2) << "ties to the model's order";
  EXPECT_EQ(Trials::winner({}, 1.0), -1);
  // Candidate 0 is the model's pick: kept unless beaten by the margin.
  EXPECT_EQ(Trials::winner({30, 27}, 1.15), 0);
  EXPECT_EQ(Trials::winner({30, 20}, 1.15), 1);
  EXPECT_EQ(Trials::winner({30, 40, 27}, 1.15), 0);
}

TEST(TrialCandidates, AVoteIsTheMeanWithoutTheSlowestOfThreeOrMore) {
  EXPECT_EQ(Trials::voteNs({10, 100, 12}), 11000u);
  EXPECT_EQ(Trials::voteNs({10, 20}), 15000u);
  EXPECT_EQ(Trials::voteNs({7.5}), 7500u);
  EXPECT_EQ(Trials::voteNs({}), Trials::kNoTimeNs);
  EXPECT_EQ(Trials::voteNs({1e12}), Trials::kNoTimeNs) << "capped";
}

struct Algos {
  const AlgorithmRegistry& reg = builtinAlgorithms();
  std::vector<const Algorithm*> list = {reg.find("direct"), reg.find("ring"),
                                        reg.find("recursive_doubling")};
  // direct predicted best, then recursive_doubling, then ring.
  std::vector<double> costs = {10, 30, 15};
};

TEST(Trials, EachCandidateInTurnThenTheMeasuredFastestForGood) {
  Algos a;
  ASSERT_NE(a.list[0], nullptr);
  ASSERT_NE(a.list[2], nullptr);
  Trials t;
  t.configure(enabledConfig(2));
  std::vector<int> ran;
  TrialTicket ticket;
  bool settled = true;
  for (int call = 0; call < 6; ++call) {
    int i = t.pick(CollKind::kAllReduce, 4096, a.list, a.costs, 0, &ticket, &settled);
    EXPECT_FALSE(settled);
    ASSERT_GE(ticket.entry, 0);
    EXPECT_EQ(ticket.last, call == 5);
    ran.push_back(i);
    // ring is the fastest here, against the model.
    t.record(ticket, i == 1 ? 5.0 : 20.0 + call);
  }
  // Model order (direct, recursive_doubling, ring), round-robin, twice.
  EXPECT_EQ(ran, (std::vector<int>{0, 2, 1, 0, 2, 1}));
  std::vector<uint64_t> votes;
  t.votes(ticket.entry, &votes);
  // Per candidate (model order), this rank's mean in ns.
  EXPECT_EQ(votes, (std::vector<uint64_t>{21500, 22500, 5000}));
  std::string line = t.settle(ticket.entry, votes, 1);
  EXPECT_NE(line.find("allreduce 4096 bytes: trials chose ring"), std::string::npos) << line;
  for (int call = 0; call < 3; ++call) {
    EXPECT_EQ(t.pick(CollKind::kAllReduce, 4096, a.list, a.costs, 0, &ticket, &settled), 1);
    EXPECT_TRUE(settled);
    EXPECT_LT(ticket.entry, 0);
  }
  // Another size starts its own trials.
  EXPECT_EQ(t.pick(CollKind::kAllReduce, 8192, a.list, a.costs, 0, &ticket, &settled), 0);
  EXPECT_FALSE(settled);
}

TEST(Trials, RanksWithDifferentTimingsSettleTheSame) {
  Algos a;
  const int nranks = 3;
  std::vector<Trials> ranks(nranks);
  // Rank 0 finds direct fastest, ranks 1 and 2 recursive_doubling: the sum decides.
  const double times[3][3] = {{4, 50, 9}, {30, 50, 10}, {30, 50, 10}};
  std::vector<uint64_t> sum(3, 0);
  int entry = -1;
  for (int r = 0; r < nranks; ++r) {
    ranks[r].configure(enabledConfig(1));
    TrialTicket ticket;
    bool settled;
    for (int call = 0; call < 3; ++call) {
      int i = ranks[r].pick(CollKind::kAllGather, 1 << 20, a.list, a.costs, 0, &ticket, &settled);
      ranks[r].record(ticket, times[r][i]);
    }
    ASSERT_TRUE(ticket.last);
    entry = ticket.entry;
    std::vector<uint64_t> v;
    ranks[r].votes(entry, &v);
    for (size_t k = 0; k < v.size(); ++k) sum[k] += v[k];
  }
  for (int r = 0; r < nranks; ++r) {
    ranks[r].settle(entry, sum, nranks);
    TrialTicket ticket;
    bool settled;
    EXPECT_EQ(ranks[r].pick(CollKind::kAllGather, 1 << 20, a.list, a.costs, 0, &ticket, &settled), 2)
        << "rank " << r;
  }
}

TEST(Trials, UntimedCallsAndPendingAgreement) {
  Algos a;
  Trials t;
  t.configure(enabledConfig(1));
  TrialTicket ticket;
  bool settled;
  for (int call = 0; call < 3; ++call) {
    t.pick(CollKind::kBroadcast, 64, a.list, a.costs, 0, &ticket, &settled);  // never recorded
  }
  // Trials over, agreement pending (same size again in one group): model's pick, no ticket.
  EXPECT_EQ(t.pick(CollKind::kBroadcast, 64, a.list, a.costs, 0, &ticket, &settled), 0);
  EXPECT_LT(ticket.entry, 0);
  EXPECT_FALSE(settled);
  std::vector<uint64_t> votes;
  t.votes(0, &votes);
  EXPECT_EQ(votes, (std::vector<uint64_t>(3, Trials::kNoTimeNs)));
}

TEST(Trials, WhatIsNeverTried) {
  Algos a;
  Trials off;
  TrialTicket ticket;
  bool settled = false;
  EXPECT_EQ(off.pick(CollKind::kAllReduce, 4096, a.list, a.costs, 2, &ticket, &settled), 2);
  EXPECT_TRUE(settled);
  EXPECT_LT(ticket.entry, 0);

  Trials t;
  t.configure(enabledConfig());
  for (CollKind k : {CollKind::kAlltoAllv, CollKind::kSend, CollKind::kRecv}) {
    EXPECT_EQ(t.pick(k, 4096, a.list, a.costs, 1, &ticket, &settled), 1);
    EXPECT_TRUE(settled);
  }
  EXPECT_EQ(t.pick(CollKind::kAllReduce, 0, a.list, a.costs, 1, &ticket, &settled), 1);
  EXPECT_TRUE(settled);
  // One usable candidate: settled at once.
  EXPECT_EQ(t.pick(CollKind::kAllReduce, 64, a.list, {-1, 3, -1}, 1, &ticket, &settled), 1);
  EXPECT_TRUE(settled);
  EXPECT_LT(ticket.entry, 0);

  TrialConfig small = enabledConfig();
  small.maxSizes = 1;
  Trials full;
  full.configure(small);
  full.pick(CollKind::kAllReduce, 64, a.list, a.costs, 0, &ticket, &settled);
  EXPECT_GE(ticket.entry, 0);
  EXPECT_EQ(full.pick(CollKind::kAllReduce, 128, a.list, a.costs, 2, &ticket, &settled), 2)
      << "past maxSizes new sizes take the model's choice";
  EXPECT_TRUE(settled);
  EXPECT_LT(ticket.entry, 0);
}

// Live ranks: lone calls and groups of the same sizes, through every
// trial and agreement, with exact integer results.
TEST(TrialsComm, RanksStayInStepThroughTrialsGroupsAndAgreement) {
  const std::vector<size_t> counts = {2, 1000, 40000};
  mrdtest::spawnRanks(4, [&](int rank, mrdComm_t comm) {
    std::vector<std::vector<int32_t>> bufs(2);
    for (int iter = 0; iter < 30; ++iter) {
      for (size_t count : counts) {
        const bool grouped = iter % 5 == 3;
        if (grouped) {
          ASSERT_EQ(mrdGroupStart(), mrdSuccess);
        }
        for (int g = 0; g < (grouped ? 2 : 1); ++g) {
          std::vector<int32_t>& b = bufs[static_cast<size_t>(g)];
          b.assign(count, 0);
          for (size_t i = 0; i < count; ++i) b[i] = rank * 3 + static_cast<int32_t>(i % 11) + iter + g;
          ASSERT_EQ(mrdAllReduce(b.data(), b.data(), count, mrdInt32, mrdSum, comm, nullptr),
                    mrdSuccess)
              << mrdGetLastError(comm);
        }
        if (grouped) {
          ASSERT_EQ(mrdGroupEnd(), mrdSuccess) << mrdGetLastError(comm);
        }
        for (int g = 0; g < (grouped ? 2 : 1); ++g) {
          const std::vector<int32_t>& b = bufs[static_cast<size_t>(g)];
          size_t wrong = 0;
          for (size_t i = 0; i < count; ++i) {
            if (b[i] != 18 + 4 * (static_cast<int32_t>(i % 11) + iter + g)) ++wrong;
          }
          EXPECT_EQ(wrong, 0u) << "rank " << rank << " iter " << iter << " count " << count;
        }
      }
      // A rooted collective of the same bytes keeps its own trials.
      std::vector<int32_t> bc(1000, rank == 1 ? iter : -1);
      ASSERT_EQ(mrdBroadcast(bc.data(), bc.data(), bc.size(), mrdInt32, 1, comm, nullptr),
                mrdSuccess)
          << mrdGetLastError(comm);
      EXPECT_EQ(bc[999], iter) << "rank " << rank;
    }
  });
}

// Captures the TUNE log at INFO for the lifetime of the object.
class TuneLogCapture {
 public:
  TuneLogCapture() : logger_(log::get(log::Subsys::kTune)), level_(logger_.level()) {
    saved_.swap(logger_.sinks());
    logger_.sinks().push_back(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_));
    logger_.set_level(spdlog::level::info);
  }
  ~TuneLogCapture() {
    logger_.set_level(level_);
    logger_.sinks().swap(saved_);
  }
  std::string text() {
    logger_.flush();
    return out_.str();
  }

 private:
  spdlog::logger& logger_;
  spdlog::level::level_enum level_;
  std::vector<spdlog::sink_ptr> saved_;
  std::ostringstream out_;
};

// Rank 0 logs one settled line per size, naming the winner among the
// measured candidates.
TEST(TrialsComm, EachSizeSettlesOnceAndSaysWhy) {
  TuneLogCapture capture;
  mrdtest::spawnRanks(4, [&](int rank, mrdComm_t comm) {
    for (int iter = 0; iter < 16; ++iter) {
      for (size_t count : {size_t{16}, size_t{65536}}) {
        std::vector<float> b(count, static_cast<float>(rank));
        ASSERT_EQ(mrdAllReduce(b.data(), b.data(), count, mrdFloat32, mrdSum, comm, nullptr),
                  mrdSuccess)
            << mrdGetLastError(comm);
        EXPECT_EQ(b[count - 1], 6.0f);
      }
    }
  });
  const std::string text = capture.text();
  for (size_t bytes : {size_t{64}, size_t{262144}}) {
    const std::string key = "allreduce " + std::to_string(bytes) + " bytes: trials chose ";
    size_t at = text.find(key);
    ASSERT_NE(at, std::string::npos) << text;
    EXPECT_EQ(text.find(key, at + 1), std::string::npos) << "settled twice:\n" << text;
    std::string line = text.substr(at, text.find('\n', at) - at);
    std::string winner = line.substr(key.size(), line.find(';') - key.size());
    EXPECT_NE(line.find(" " + winner + "="), std::string::npos) << "winner among the measured: " << line;
    EXPECT_NE(line.find("mean us over ranks (predicted):"), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace mrd::tuner
