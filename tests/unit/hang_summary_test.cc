// mrdrun's summary of the ranks' hang report lines (tools/mrdrun/hang_summary.cc).
#include "hang_summary.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

std::string waitLine(int job, int rank, const std::string& comm, const std::string& detail) {
  return std::to_string(job) + ":s rank " + std::to_string(rank) +
         ": hang report: operation 7 (allreduce of 1024 float) on communicator " + comm +
         " without progress for 1500 ms: " + detail;
}

std::string idleLine(int job, int rank, const std::string& comm) {
  return std::to_string(job) + ":s rank " + std::to_string(rank) +
         ": hang report: no operation in flight on communicator " + comm + " (4 ranks, 6 operations run)";
}

TEST(HangSummary, NamesTheIdleRankAtTheEndOfAChainOfWaits) {
  mrdrun::HangSummary h;
  h.add(waitLine(0, 0, "c1", "waiting to receive 64 bytes from peer 2 on channel 0 (receive 1 of 2 ...) [link: ...]"));
  h.add(waitLine(1, 1, "c1", "waiting to send 64 bytes to peer 0 on channel 1 (send 1 of 1 ...)"));
  h.add(idleLine(2, 2, "c1"));
  EXPECT_TRUE(h.signalable());
  const std::string s = joined(h.take(4));
  EXPECT_NE(s.find("hang report from 3 of 4 ranks:"), std::string::npos) << s;
  EXPECT_NE(s.find("rank 0: operation 7 (allreduce of 1024 float) on communicator c1, 1500 ms without progress, waits on rank 2"),
            std::string::npos) << s;
  EXPECT_NE(s.find("rank 1: operation 7 (allreduce of 1024 float) on communicator c1, 1500 ms without progress, waits on rank 0"),
            std::string::npos) << s;
  EXPECT_NE(s.find("rank 2: no operation in flight (communicator c1)"), std::string::npos) << s;
  EXPECT_NE(s.find("no report from rank(s) 3"), std::string::npos) << s;
  EXPECT_NE(s.find("the others wait on rank 2 (no operation in flight)"), std::string::npos) << s;
  EXPECT_EQ(s.find("the others wait on rank 0"), std::string::npos) << s;
  EXPECT_TRUE(h.empty());  // taken
}

TEST(HangSummary, ARankThatSentNothingIsNamed) {
  mrdrun::HangSummary h;
  h.add(waitLine(0, 0, "c1", "waiting on the shared-memory board for peer 1 to publish (board operation 3)"));
  const std::string s = joined(h.take(2));
  EXPECT_NE(s.find("the others wait on rank 1 (sent no report)"), std::string::npos) << s;
}

TEST(HangSummary, ACycleIsNamedAsSuch) {
  mrdrun::HangSummary h;
  h.add(waitLine(0, 0, "c1", "waiting to receive 8 bytes from peer 1 on channel 0"));
  h.add(waitLine(1, 1, "c1", "waiting to receive 8 bytes from peer 0 on channel 0"));
  const std::string s = joined(h.take(2));
  EXPECT_NE(s.find("ranks 0, 1 wait on each other"), std::string::npos) << s;
  EXPECT_EQ(s.find("the others wait on"), std::string::npos) << s;
}

TEST(HangSummary, ASplitCommunicatorsRanksAreMappedToJobRanks) {
  // Communicator c2 holds job ranks 1 and 3 as its ranks 0 and 1.
  mrdrun::HangSummary h;
  h.add(waitLine(3, 1, "c2", "waiting to receive 8 bytes from peer 0 on channel 0"));
  h.add(idleLine(1, 0, "c2"));
  const std::string s = joined(h.take(4));
  EXPECT_NE(s.find("rank 3: operation 7 (allreduce of 1024 float) on communicator c2, 1500 ms without progress, waits on rank 1"),
            std::string::npos) << s;
  EXPECT_NE(s.find("the others wait on rank 1 (no operation in flight)"), std::string::npos) << s;
}

TEST(HangSummary, TheLatestLinePerRankCountsAndOtherLinesAreKept) {
  mrdrun::HangSummary h;
  h.add(waitLine(0, 0, "c1", "waiting to receive 8 bytes from peer 1 on channel 0"));
  h.add(idleLine(0, 0, "c1"));
  h.add("garbage line");
  const std::string s = joined(h.take(2));
  EXPECT_NE(s.find("rank 0: no operation in flight"), std::string::npos) << s;
  EXPECT_EQ(s.find("waits on"), std::string::npos) << s;
  EXPECT_NE(s.find("  garbage line"), std::string::npos) << s;
}

TEST(HangSummary, RanksWithoutTheSignalAreNotAsked) {
  mrdrun::HangSummary h;
  h.add("0 rank 0: hang report: no operation in flight on communicator c1 (2 ranks, 0 operations run)");
  EXPECT_FALSE(h.signalable());
  EXPECT_FALSE(h.empty());
}

}  // namespace
