// The tuner's pure parts: MRD_ALGO parsing, the cost model's decision table
// for fixed alpha/beta inputs, and the chunk/channel rules.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tuner/algo_policy.h"
#include "tuner/cost_model.h"
#include "tuner/tuner.h"

namespace mrd::tuner {
namespace {

const std::vector<std::string> kKnown = {"direct", "ring", "chain", "pairwise", "linear",
                                         "bruck", "recursive_doubling", "rabenseifner", "tree"};

TEST(AlgoPolicy, EmptyAllowsEverything) {
  AlgoPolicy p;
  ASSERT_TRUE(parseAlgoPolicy("", kKnown, &p).isOk());
  EXPECT_TRUE(p.empty());
  bool strict = true;
  EXPECT_TRUE(p.ruleFor(CollKind::kAllReduce, &strict).allows("tree"));
  EXPECT_FALSE(strict);
}

TEST(AlgoPolicy, NcclSyntaxDefaultAndPerCollective) {
  AlgoPolicy p;
  Status st = parseAlgoPolicy("ring;allreduce:tree,ring;alltoall:bruck", kKnown, &p);
  ASSERT_TRUE(st.isOk()) << st.message();
  bool strict = false;
  const AlgoRule& ar = p.ruleFor(CollKind::kAllReduce, &strict);
  EXPECT_TRUE(strict);
  EXPECT_TRUE(ar.allows("tree"));
  EXPECT_TRUE(ar.allows("ring"));
  EXPECT_FALSE(ar.allows("direct"));
  const AlgoRule& a2a = p.ruleFor(CollKind::kAlltoAll, &strict);
  EXPECT_TRUE(strict);
  EXPECT_TRUE(a2a.allows("bruck"));
  EXPECT_FALSE(a2a.allows("pairwise"));
  const AlgoRule& ag = p.ruleFor(CollKind::kAllGather, &strict);
  EXPECT_FALSE(strict);
  EXPECT_TRUE(ag.allows("ring"));
  EXPECT_FALSE(ag.allows("bruck"));
}

TEST(AlgoPolicy, ExclusionCaseAndSpaces) {
  AlgoPolicy p;
  ASSERT_TRUE(parseAlgoPolicy(" AllReduce : ^Direct , tree ", kKnown, &p).isOk());
  bool strict = false;
  const AlgoRule& r = p.ruleFor(CollKind::kAllReduce, &strict);
  EXPECT_FALSE(r.allows("direct"));
  EXPECT_FALSE(r.allows("tree"));
  EXPECT_TRUE(r.allows("ring"));
}

TEST(AlgoPolicy, SendRecvCoversBoth) {
  AlgoPolicy p;
  ASSERT_TRUE(parseAlgoPolicy("sendrecv:pairwise", kKnown, &p).isOk());
  bool strict = false;
  EXPECT_TRUE(p.ruleFor(CollKind::kSend, &strict).allows("pairwise"));
  EXPECT_TRUE(strict);
  EXPECT_TRUE(p.ruleFor(CollKind::kRecv, &strict).allows("pairwise"));
}

TEST(AlgoPolicy, UnknownNamesAreErrorsThatSayWhy) {
  AlgoPolicy p;
  Status st = parseAlgoPolicy("ring;allreduce:tre", kKnown, &p);
  EXPECT_EQ(st.code(), mrdInvalidArgument);
  EXPECT_NE(st.message().find("unknown algorithm \"tre\""), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("rabenseifner"), std::string::npos) << st.message();
  st = parseAlgoPolicy("allreduse:ring", kKnown, &p);
  EXPECT_EQ(st.code(), mrdInvalidArgument);
  EXPECT_NE(st.message().find("unknown collective \"allreduse\""), std::string::npos) << st.message();
  EXPECT_EQ(parseAlgoPolicy("ring;tree", kKnown, &p).code(), mrdInvalidArgument);
  EXPECT_EQ(parseAlgoPolicy("allreduce:ring;allreduce:tree", kKnown, &p).code(), mrdInvalidArgument);
  EXPECT_EQ(parseAlgoPolicy("allreduce:", kKnown, &p).code(), mrdInvalidArgument);
  EXPECT_EQ(parseAlgoPolicy("ring,,tree", kKnown, &p).code(), mrdInvalidArgument);
}

// A machine with round numbers: 10 us latency, 1 GB/s links, fast reduce.
MachineModel fixedMachine() {
  MachineModel m;
  m.intra.alphaUs = 10;
  m.intra.betaUsPerByte = 1e-3;
  m.inter.alphaUs = 30;
  m.inter.betaUsPerByte = 1e-3;
  m.gammaUsPerByte = 1e-4;
  m.copyUsPerByte = 5e-5;
  return m;
}

std::string winner(CollKind kind, size_t bytes, int nranks, const std::vector<std::string>& algos,
                   int nhosts = 1) {
  CostQuery q;
  q.kind = kind;
  q.bytes = bytes;
  q.nranks = nranks;
  q.nhosts = nhosts;
  std::vector<double> costs;
  for (const auto& a : algos) costs.push_back(predictUs(a, q, fixedMachine()));
  int best = cheapest(costs);
  return best < 0 ? "none" : algos[static_cast<size_t>(best)];
}

TEST(CostModel, DecisionTableForFixedAlphaBeta) {
  const std::vector<std::string> ar = {"direct", "ring", "recursive_doubling", "rabenseifner", "tree"};
  // Latency-bound: log rounds beat 2(n-1) rounds, and direct's one round
  // (p-1 arrivals at half a latency each) unless ranks wait to be
  // scheduled (OversubscriptionPenalisesChangingPartners).
  EXPECT_EQ(winner(CollKind::kAllReduce, 8, 8, ar), "recursive_doubling");
  EXPECT_EQ(winner(CollKind::kAllReduce, 8, 4, ar), "recursive_doubling");
  EXPECT_EQ(winner(CollKind::kAllReduce, 8, 8, {"ring", "direct", "tree"}), "direct");
  // Bandwidth-bound: one of the algorithms that send each byte about
  // twice (ring, Rabenseifner, the pipelined double tree), never the ones
  // that send the whole buffer every round.
  std::string big = winner(CollKind::kAllReduce, 64 << 20, 8, ar);
  EXPECT_TRUE(big == "rabenseifner" || big == "ring" || big == "tree") << big;
  EXPECT_EQ(winner(CollKind::kAllReduce, 64 << 20, 8, {"ring", "recursive_doubling", "direct"}), "ring");
  // Broadcast: the tree's log depth wins while latency dominates; on two
  // trees it sends no more per rank than the chain.
  EXPECT_EQ(winner(CollKind::kBroadcast, 8, 8, {"chain", "tree"}), "tree");
  EXPECT_EQ(winner(CollKind::kReduce, 8, 8, {"chain", "tree"}), "tree");
  // Alltoall: Bruck for tiny blocks on many ranks, pairwise for large.
  EXPECT_EQ(winner(CollKind::kAlltoAll, 64 << 20, 8, {"pairwise", "bruck"}), "pairwise");
  EXPECT_EQ(winner(CollKind::kAlltoAll, 8 * 64, 64, {"pairwise", "bruck"}), "bruck");
  // Allgather: log rounds beat the ring while latency dominates.
  EXPECT_EQ(winner(CollKind::kAllGather, 64, 8, {"ring", "recursive_doubling"}), "recursive_doubling");
  EXPECT_EQ(winner(CollKind::kAllGather, 64 << 20, 8, {"ring", "bruck"}), "ring");
}

TEST(CostModel, TheBoardTakesSmallCollectivesOnOneHostOnly) {
  const std::vector<std::string> ar = {"direct", "ring", "recursive_doubling", "rabenseifner", "tree", "board"};
  EXPECT_EQ(winner(CollKind::kAllReduce, 8, 4, ar), "board");
  EXPECT_EQ(winner(CollKind::kAllReduce, 8, 8, ar), "board");
  EXPECT_EQ(winner(CollKind::kBroadcast, 8, 4, {"chain", "tree", "board"}), "board");
  EXPECT_EQ(winner(CollKind::kAlltoAll, 8 * 4, 4, {"pairwise", "bruck", "board"}), "board");
  // Not across hosts: no shared memory there.
  CostQuery q;
  q.kind = CollKind::kAllReduce;
  q.bytes = 8;
  q.nranks = 4;
  q.nhosts = 2;
  q.maxLocal = 2;
  EXPECT_LT(predictUs("board", q, fixedMachine()), 0);
  // Its cost grows with every rank's input read: at 1 MiB (had it room)
  // the ring would win.
  EXPECT_EQ(winner(CollKind::kAllReduce, 1 << 20, 8, {"ring", "board"}), "ring");
}

TEST(CostModel, OversubscriptionPenalisesChangingPartners) {
  // 8 ranks on 2 cores: rounds with a new partner each time wait for it to
  // be scheduled; the neighbour-to-neighbour ring is hit less.
  MachineModel m = fixedMachine();
  CostQuery q;
  q.kind = CollKind::kAllReduce;
  q.bytes = 8;
  q.nranks = 8;
  const double rdIdle = predictUs("recursive_doubling", q, m);
  const double ringIdle = predictUs("ring", q, m);
  const double directIdle = predictUs("direct", q, m);
  q.bytes = 64 << 20;
  const double ringBigIdle = predictUs("ring", q, m);
  q.bytes = 8;
  m.roundFactor = 2;
  EXPECT_NEAR(predictUs("ring", q, m), ringIdle, 0.01 * ringIdle);
  EXPECT_NEAR(predictUs("direct", q, m), directIdle, 0.01 * directIdle);
  EXPECT_GT(predictUs("recursive_doubling", q, m), 1.9 * rdIdle);
  // Direct's one round now beats recursive doubling's three.
  const std::vector<std::string> ar = {"direct", "ring", "recursive_doubling", "rabenseifner", "tree"};
  std::vector<double> costs;
  for (const auto& a : ar) costs.push_back(predictUs(a, q, m));
  EXPECT_EQ(ar[static_cast<size_t>(cheapest(costs))], "direct");
  // The ranks' copies share the cores: bandwidth-bound costs double.
  q.bytes = 64 << 20;
  EXPECT_GT(predictUs("ring", q, m), 1.98 * ringBigIdle);  // not its latency terms
  EXPECT_LT(predictUs("ring", q, m), 2 * ringBigIdle);
}

TEST(CostModel, UnmodelledPairsAreNegative) {
  CostQuery q;
  q.kind = CollKind::kAlltoAll;
  q.bytes = 1024;
  q.nranks = 4;
  EXPECT_LT(predictUs("tree", q, fixedMachine()), 0);
  EXPECT_LT(predictUs("no-such-algo", q, fixedMachine()), 0);
  EXPECT_EQ(cheapest({-1, -1}), -1);
  EXPECT_EQ(cheapest({-1, 5, 5}), 1);  // ties go to the earlier one
}

TEST(CostModel, CrossHostUsesTheSlowerLink) {
  CostQuery q;
  q.kind = CollKind::kAllReduce;
  q.bytes = 8;
  q.nranks = 4;
  double one = predictUs("ring", q, fixedMachine());
  q.nhosts = 2;
  EXPECT_GT(predictUs("ring", q, fixedMachine()), one);
}

TEST(TunerLimits, ChunkAndChannels) {
  TunerLimits lim;
  lim.maxChannels = 4;
  lim.chunkBytes = 128 << 10;
  lim.channelMinBytes = 64 << 10;
  CostQuery q;
  q.nranks = 4;
  q.bytes = 8;
  EXPECT_EQ(chooseChannels(q, lim), 1);
  EXPECT_EQ(chooseChunkBytes(q, lim), size_t{16} << 10);
  q.bytes = 64 << 20;
  EXPECT_EQ(chooseChannels(q, lim), 4);
  EXPECT_EQ(chooseChunkBytes(q, lim), size_t{128} << 10);
  q.bytes = 1 << 20;  // 256 KiB per ring step: 64 KiB slices
  EXPECT_EQ(chooseChunkBytes(q, lim), size_t{64} << 10);
  lim.chunkForced = true;
  lim.chunkBytes = 4096;
  EXPECT_EQ(chooseChunkBytes(q, lim), size_t{4096});
  lim.channelsForced = true;
  q.bytes = 8;
  EXPECT_EQ(chooseChannels(q, lim), 4);
  lim.channelsForced = false;
  lim.minChannels = 2;
  EXPECT_EQ(chooseChannels(q, lim), 2);
}

}  // namespace
}  // namespace mrd::tuner
