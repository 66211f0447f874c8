#include "tree/tree_shape.h"

namespace mrd::algo {
namespace {

int lowBit(int x) { return x & -x; }

int highestPowerOfTwoAtMost(int x) {
  int p = 1;
  while (p <= x / 2) p *= 2;
  return p;
}

// Links of label x in the in-order tree over labels 1..m, as labels (0 for none).
struct LabelLinks {
  int parent = 0;
  int left = 0;
  int right = 0;
};

LabelLinks labelLinks(int m, int x) {
  LabelLinks l;
  const int b = lowBit(x);
  if (b > 1) {
    l.left = x - b / 2;
    if (x < m) {
      int c = highestPowerOfTwoAtMost(m - x);
      if (c > b / 2) c = b / 2;
      l.right = x + c;
    }
  }
  // The parent is the nearest ancestor in the unbounded tree that is <= m.
  // In that tree the parent of y (lowest bit b) is whichever of y - b and
  // y + b has lowest bit exactly 2b. The root (largest power of two <= m)
  // has only ancestors above m.
  if (x != highestPowerOfTwoAtMost(m)) {
    int y = x;
    do {
      const int yb = lowBit(y);
      y = (y / yb) % 4 == 1 ? y + yb : y - yb;
    } while (y > m);
    l.parent = y;
  }
  return l;
}

// Label of rank r in tree t of the double tree over m ranks, and back.
int labelOf(int m, int t, int r) {
  if (t == 0) return r + 1;
  if (m % 2 == 0) return m - r;
  return r == 0 ? m : r;
}

int rankOf(int m, int t, int x) {
  if (t == 0) return x - 1;
  if (m % 2 == 0) return m - x;
  return x == m ? 0 : x;
}

int mapLabel(int m, int t, int x) { return x == 0 ? -1 : rankOf(m, t, x); }

}  // namespace

TreeLinks doubleTreeLinks(int n, int tree, int rank) {
  TreeLinks out;
  if (n <= 1) return out;
  LabelLinks l = labelLinks(n, labelOf(n, tree, rank));
  out.parent = mapLabel(n, tree, l.parent);
  out.child[0] = mapLabel(n, tree, l.left);
  out.child[1] = mapLabel(n, tree, l.right);
  return out;
}

int doubleTreeRoot(int n, int tree) {
  return n <= 1 ? 0 : rankOf(n, tree, highestPowerOfTwoAtMost(n));
}

TreeLinks rootedTreeLinks(int n, int root, int tree, int rank) {
  TreeLinks out;
  if (n <= 1) return out;
  const int m = n - 1;
  auto toRank = [&](int q) { return q < 0 ? -1 : (q + root + 1) % n; };
  if (rank == root) {
    out.child[0] = toRank(doubleTreeRoot(m, tree));
    return out;
  }
  const int q = ((rank - root - 1) % n + n) % n;
  TreeLinks inner = doubleTreeLinks(m, tree, q);
  out.parent = inner.parent < 0 ? root : toRank(inner.parent);
  out.child[0] = toRank(inner.child[0]);
  out.child[1] = toRank(inner.child[1]);
  return out;
}

int doubleTreeHeight(int n) {
  int h = 0;
  while (n > 1) {
    n /= 2;
    ++h;
  }
  return h;
}

}  // namespace mrd::algo
