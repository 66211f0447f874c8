// Tree shapes for the "tree" algorithm, as pure functions of (n, rank) so
// every rank computes its own links without talking and tests can check
// the shapes directly.
//
// The building block is the in-order binary tree over labels 1..m: label x
// with lowest set bit b has children x - b/2 and x + b/2 (the right one
// pulled in to the largest x + c <= m, c < b, when x + b/2 is past m); odd
// labels are leaves, even labels have at least a left child, and the root
// is the largest power of two <= m, so the height is floor(log2 m).
//
// Double binary tree (allreduce): tree 0 gives rank r the label r + 1;
// tree 1 mirrors it (label m - r) when m is even and shifts it by one rank
// (label r, rank 0 -> m) when m is odd. Either way the ranks that are
// interior in one tree are leaves in the other (for odd m, rank 0 is a leaf
// in both), so each rank forwards the data of at most one tree.
//
// Rooted trees (broadcast, reduce): the root has one child, the top of
// tree t of a double binary tree over the other n - 1 ranks relabelled
// relative to the root (rank root + 1 + q for q = 0..n-2).
#pragma once

namespace mrd::algo {

// A rank's links in one tree; -1 for none. Children are listed in a fixed
// order (left, right) that every rank agrees on.
struct TreeLinks {
  int parent = -1;
  int child[2] = {-1, -1};

  bool isLeaf() const { return child[0] < 0 && child[1] < 0; }
};

// Tree `tree` (0 or 1) of the double binary tree over ranks 0..n-1.
TreeLinks doubleTreeLinks(int n, int tree, int rank);
int doubleTreeRoot(int n, int tree);

// Tree `tree` (0 or 1) rooted at `root`: root -> top of tree `tree` over
// the other ranks. The root's only child is child[0].
TreeLinks rootedTreeLinks(int n, int root, int tree, int rank);

// Edges from the root to the deepest leaf of a double binary tree over n
// ranks: floor(log2 n) (0 for n <= 1). A rooted tree over n ranks is one
// deeper than the double tree over n - 1.
int doubleTreeHeight(int n);

}  // namespace mrd::algo
