// The tree algorithm's shapes: for n = 1..64 both trees of the double binary
// tree and every rooted tree are valid binary trees over all ranks, links
// agree at both ends, heights are logarithmic, and the two trees are
// complementary (a rank interior in one is a leaf in the other).
#include "algorithms/tree/tree_shape.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace mrd::algo {
namespace {

constexpr int kMaxRanks = 64;

int floorLog2(int n) {
  int h = 0;
  while (n > 1) {
    n /= 2;
    ++h;
  }
  return h;
}

// Checks that links (one per rank) form one binary tree rooted at root;
// returns its height (edges) or -1 after reporting a failure.
int checkTree(const std::vector<TreeLinks>& links, int root, const std::string& what) {
  const int n = static_cast<int>(links.size());
  for (int r = 0; r < n; ++r) {
    const TreeLinks& l = links[static_cast<size_t>(r)];
    const std::string at = what + " rank " + std::to_string(r);
    if (r == root) {
      EXPECT_EQ(l.parent, -1) << at << ": the root has a parent";
    } else {
      EXPECT_GE(l.parent, 0) << at << ": no parent";
      EXPECT_LT(l.parent, n) << at;
      EXPECT_NE(l.parent, r) << at;
      if (l.parent < 0 || l.parent >= n) return -1;
      const TreeLinks& p = links[static_cast<size_t>(l.parent)];
      EXPECT_TRUE(p.child[0] == r || p.child[1] == r)
          << at << ": parent " << l.parent << " does not list it as a child";
    }
    EXPECT_FALSE(l.child[0] >= 0 && l.child[0] == l.child[1]) << at << ": duplicate child";
    for (int c : l.child) {
      if (c < 0) continue;
      EXPECT_LT(c, n) << at;
      EXPECT_NE(c, r) << at;
      if (c >= n) return -1;
      EXPECT_EQ(links[static_cast<size_t>(c)].parent, r)
          << at << ": child " << c << " has another parent";
    }
  }
  if (::testing::Test::HasFailure()) return -1;
  // Reachability from the root (links agree, so a walk down cannot loop
  // unless a cycle exists, which the visited check catches).
  std::vector<int> depth(static_cast<size_t>(n), -1);
  std::vector<int> stack = {root};
  depth[static_cast<size_t>(root)] = 0;
  int height = 0, seen = 1;
  while (!stack.empty()) {
    int r = stack.back();
    stack.pop_back();
    for (int c : links[static_cast<size_t>(r)].child) {
      if (c < 0) continue;
      if (depth[static_cast<size_t>(c)] >= 0) {
        ADD_FAILURE() << what << ": rank " << c << " reached twice";
        return -1;
      }
      depth[static_cast<size_t>(c)] = depth[static_cast<size_t>(r)] + 1;
      height = std::max(height, depth[static_cast<size_t>(c)]);
      ++seen;
      stack.push_back(c);
    }
  }
  EXPECT_EQ(seen, n) << what << ": not every rank is reachable from the root";
  return height;
}

TEST(TreeShape, DoubleTreesAreComplementaryBinaryTrees) {
  for (int n = 1; n <= kMaxRanks; ++n) {
    std::vector<TreeLinks> trees[2];
    for (int t = 0; t < 2; ++t) {
      for (int r = 0; r < n; ++r) trees[t].push_back(doubleTreeLinks(n, t, r));
      const std::string what = "n=" + std::to_string(n) + " tree " + std::to_string(t);
      const int root = doubleTreeRoot(n, t);
      ASSERT_GE(root, 0) << what;
      ASSERT_LT(root, n) << what;
      const int height = checkTree(trees[t], root, what);
      ASSERT_GE(height, 0) << what;
      EXPECT_EQ(height, floorLog2(n)) << what;
      EXPECT_EQ(height, doubleTreeHeight(n)) << what;
    }
    if (n >= 2) {
      EXPECT_NE(doubleTreeRoot(n, 0), doubleTreeRoot(n, 1)) << "n=" << n;
    }
    int leafInBoth = 0;
    for (int r = 0; r < n; ++r) {
      const bool interior0 = !trees[0][static_cast<size_t>(r)].isLeaf();
      const bool interior1 = !trees[1][static_cast<size_t>(r)].isLeaf();
      EXPECT_FALSE(interior0 && interior1) << "n=" << n << " rank " << r << " interior in both";
      if (!interior0 && !interior1) ++leafInBoth;
    }
    // Even n: every rank forwards for exactly one tree; odd n: all but one.
    // (n = 1: the single rank is a leaf of both.)
    EXPECT_EQ(leafInBoth, n % 2) << "n=" << n;
  }
}

TEST(TreeShape, RootedTreesHangFromTheRoot) {
  for (int n = 1; n <= kMaxRanks; ++n) {
    for (int root = 0; root < n; ++root) {
      std::vector<TreeLinks> trees[2];
      for (int t = 0; t < 2; ++t) {
        for (int r = 0; r < n; ++r) trees[t].push_back(rootedTreeLinks(n, root, t, r));
        const std::string what = "n=" + std::to_string(n) + " root=" + std::to_string(root) +
                                 " tree " + std::to_string(t);
        const int height = checkTree(trees[t], root, what);
        ASSERT_GE(height, 0) << what;
        EXPECT_EQ(height, n == 1 ? 0 : 1 + doubleTreeHeight(n - 1)) << what;
        const TreeLinks& top = trees[t][static_cast<size_t>(root)];
        EXPECT_EQ(top.child[1], -1) << what << ": the root has two children";
        EXPECT_EQ(top.child[0] >= 0, n >= 2) << what;
      }
      // Below the root the two trees are complementary, as above.
      for (int r = 0; r < n; ++r) {
        if (r == root) continue;
        EXPECT_FALSE(!trees[0][static_cast<size_t>(r)].isLeaf() &&
                     !trees[1][static_cast<size_t>(r)].isLeaf())
            << "n=" << n << " root=" << root << " rank " << r << " interior in both";
      }
    }
  }
}

TEST(TreeShape, SmallCases) {
  // n = 2: each rank is the other's root.
  EXPECT_EQ(doubleTreeLinks(2, 0, 0).parent, 1);
  EXPECT_EQ(doubleTreeLinks(2, 1, 1).parent, 0);
  // n = 1: no links at all.
  const TreeLinks one = doubleTreeLinks(1, 0, 0);
  EXPECT_EQ(one.parent, -1);
  EXPECT_TRUE(one.isLeaf());
  EXPECT_EQ(rootedTreeLinks(1, 0, 1, 0).parent, -1);
  // n = 3, root 2: the root feeds one rank, which feeds the other.
  const TreeLinks r2 = rootedTreeLinks(3, 2, 0, 2);
  EXPECT_GE(r2.child[0], 0);
  EXPECT_EQ(rootedTreeLinks(3, 2, 0, r2.child[0]).parent, 2);
}

}  // namespace
}  // namespace mrd::algo
