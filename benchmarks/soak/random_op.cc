#include "soak/random_op.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/data_check.h"
#include "common/options.h"
#include "soak/expected.h"

namespace soak {
namespace {

const char* const kCollNames[kNumColls] = {"allreduce", "reduce",    "broadcast", "allgather",
                                           "reduce_scatter", "alltoall", "alltoallv", "gather",
                                           "scatter",   "sendrecv",  "barrier"};

// Salts that keep the different draws of one index apart.
constexpr uint64_t kOpSalt = 0x6f70000000000000ull;
constexpr uint64_t kStepSalt = 0x7374657000000000ull;
constexpr uint64_t kSplitSalt = 0x73706c6974000000ull;

// The range of scale exponents of a float type's sums: values times 2^e stay
// exact (above the smallest subnormal) and finite at the type's budget.
void ScaleRange(mrdDataType_t type, int* lo, int* hi) {
  switch (type) {
    case mrdFloat16: *lo = -8; *hi = 4; break;
    case mrdBfloat16: *lo = -8; *hi = 8; break;
    case mrdFloat8e4m3: *lo = -4; *hi = 4; break;
    case mrdFloat8e5m2: *lo = -8; *hi = 4; break;
    case mrdFloat32: *lo = -16; *hi = 16; break;
    case mrdFloat64: *lo = -32; *hi = 32; break;
    default: *lo = 0; *hi = 0; break;
  }
}

}  // namespace

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t Rng::Next() {
  state_ += 0x9e3779b97f4a7c15ull;
  uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t Rng::Below(uint64_t n) { return n <= 1 ? 0 : Next() % n; }

int64_t Rng::Range(int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
}

const char* CollName(Coll c) {
  const int i = static_cast<int>(c);
  return i >= 0 && i < kNumColls ? kCollNames[i] : "unknown";
}

bool ParseColl(const std::string& name, Coll* out) {
  for (int i = 0; i < kNumColls; ++i) {
    if (name == kCollNames[i]) {
      *out = static_cast<Coll>(i);
      return true;
    }
  }
  return false;
}

bool IsReduction(Coll c) {
  return c == Coll::kAllReduce || c == Coll::kReduce || c == Coll::kReduceScatter;
}

bool HasRoot(Coll c) {
  return c == Coll::kReduce || c == Coll::kBroadcast || c == Coll::kGather || c == Coll::kScatter;
}

bool HasInPlace(Coll c) {
  return c == Coll::kAllReduce || c == Coll::kBroadcast || c == Coll::kReduce ||
         c == Coll::kAllGather || c == Coll::kReduceScatter;
}

bool CountIsPerBlock(Coll c) {
  return c == Coll::kAllGather || c == Coll::kReduceScatter || c == Coll::kAlltoAll ||
         c == Coll::kAlltoAllv || c == Coll::kGather || c == Coll::kScatter;
}

const char* SoakOpName(int op) { return op == kNoOp ? "none" : mrdperf::OpName(op); }

OpSpec DrawOp(uint64_t seed, uint64_t index, int group, int nranks, const Choices& choices) {
  Rng rng(Mix(seed ^ kOpSalt ^ Mix(index * 64 + static_cast<uint64_t>(group + 2))));
  OpSpec op;
  op.index = index;
  // Barriers rarely (they check nothing but that every rank gets through).
  op.coll = choices.colls[rng.Below(choices.colls.size())];
  if (op.coll == Coll::kBarrier && choices.colls.size() > 1 && !rng.Chance(1, 8)) {
    while (op.coll == Coll::kBarrier) op.coll = choices.colls[rng.Below(choices.colls.size())];
  }
  if (op.coll == Coll::kSendRecv && nranks < 2) op.coll = Coll::kAllReduce;
  op.type = choices.types[rng.Below(choices.types.size())];
  if (IsReduction(op.coll)) {
    op.op = choices.red_ops[rng.Below(choices.red_ops.size())];
    if (!OpExact(op.type, op.op, nranks)) op.op = mrdSum;
  }
  if (HasRoot(op.coll)) op.root = static_cast<int>(rng.Below(static_cast<uint64_t>(nranks)));
  if (op.coll == Coll::kSendRecv) op.root = 1 + static_cast<int>(rng.Below(nranks - 1));

  // Elements of the larger buffer: 0 or 1 now and then, else log-uniform
  // bytes from 1 to max_bytes.
  const size_t es = mrdperf::TypeSize(op.type);
  const uint64_t pick = rng.Below(100);
  size_t elems;
  if (pick < 3) {
    elems = 0;
  } else if (pick < 6) {
    elems = CountIsPerBlock(op.coll) ? static_cast<size_t>(nranks) : 1;
  } else {
    const double top = std::log2(static_cast<double>(std::max<size_t>(choices.max_bytes, 1)));
    const double bytes = std::exp2(top * static_cast<double>(rng.Below(1u << 20)) / (1u << 20));
    elems = std::max<size_t>(1, static_cast<size_t>(bytes) / es);
  }
  op.count = CountIsPerBlock(op.coll) ? elems / static_cast<size_t>(nranks) : elems;
  if (op.coll == Coll::kBarrier) op.count = 0;
  op.in_place = HasInPlace(op.coll) && rng.Chance(1, 2);
  op.align = rng.Chance(1, 4) ? es * rng.Below(64 / es) : 0;
  op.key = rng.Next();
  int lo = 0, hi = 0;
  ScaleRange(op.type, &lo, &hi);
  op.scale_exp = static_cast<int>(rng.Range(lo, hi));
  op.value_shift = static_cast<int>(rng.Below(64));
  op.null_send = op.coll == Coll::kBroadcast && !op.in_place && rng.Chance(1, 2);
  op.uneven = op.coll == Coll::kAlltoAllv && choices.uneven_alltoallv;
  return op;
}

std::string Describe(const OpSpec& op) {
  char buf[256];
  int n = std::snprintf(buf, sizeof(buf), "%s %s", CollName(op.coll), mrdperf::TypeName(op.type));
  if (IsReduction(op.coll)) n += std::snprintf(buf + n, sizeof(buf) - n, " %s", SoakOpName(op.op));
  n += std::snprintf(buf + n, sizeof(buf) - n, " count %zu", op.count);
  if (HasRoot(op.coll)) n += std::snprintf(buf + n, sizeof(buf) - n, " root %d", op.root);
  if (op.coll == Coll::kSendRecv) n += std::snprintf(buf + n, sizeof(buf) - n, " shift %d", op.root);
  n += std::snprintf(buf + n, sizeof(buf) - n, "%s", op.in_place ? " in-place" : "");
  if (op.align != 0) std::snprintf(buf + n, sizeof(buf) - n, " align +%zu", op.align);
  return buf;
}

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kBlocking: return "blocking";
    case Mode::kStream: return "stream";
    case Mode::kGroup: return "group";
    case Mode::kGroupStream: return "group+stream";
  }
  return "?";
}

StepPlan DrawStep(uint64_t seed, uint64_t step, const bool live[kSplitSlots],
                  const Choices& choices) {
  Rng rng(Mix(seed ^ kStepSalt ^ Mix(step)));
  StepPlan plan;
  bool after[kSplitSlots];
  for (int s = 0; s < kSplitSlots; ++s) after[s] = live[s];
  if (choices.splits) {
    for (int s = 0; s < kSplitSlots && plan.make_split < 0 && plan.destroy_split < 0; ++s) {
      if (live[s] && rng.Chance(1, 60)) {
        plan.destroy_split = s;
        after[s] = false;
      } else if (!live[s] && rng.Chance(1, 30)) {
        plan.make_split = s;
        after[s] = true;
      }
    }
  }
  std::vector<int> usable;
  for (int s = 0; s < kSplitSlots; ++s) {
    if (after[s]) usable.push_back(s);
  }
  if (!usable.empty() && rng.Chance(1, 3)) plan.comm_slot = usable[rng.Below(usable.size())];
  const uint64_t r = rng.Below(100);
  if (r < 40 || (!choices.streams && !choices.groups)) {
    plan.mode = Mode::kBlocking;
  } else if (r < 70) {
    plan.mode = choices.streams ? Mode::kStream : Mode::kGroup;
  } else if (r < 85) {
    plan.mode = choices.groups ? Mode::kGroup : Mode::kStream;
  } else {
    plan.mode = choices.groups && choices.streams ? Mode::kGroupStream
                : choices.groups                  ? Mode::kGroup
                                                  : Mode::kStream;
  }
  plan.nops = plan.mode == Mode::kBlocking ? 1
              : plan.mode == Mode::kGroup  ? 2 + static_cast<int>(rng.Below(3))
                                           : 1 + static_cast<int>(rng.Below(4));
  return plan;
}

SplitPlan DrawSplit(uint64_t seed, uint64_t split_index, int nranks) {
  Rng rng(Mix(seed ^ kSplitSalt ^ Mix(split_index)));
  SplitPlan p;
  const size_t n = static_cast<size_t>(nranks);
  p.color.assign(n, 0);
  p.key.assign(n, 0);
  const uint64_t scheme = rng.Below(5);
  const int ncolors = 1 + static_cast<int>(rng.Below(3));
  const int out = static_cast<int>(rng.Below(n));
  for (int r = 0; r < nranks; ++r) {
    const size_t i = static_cast<size_t>(r);
    p.key[i] = r;
    switch (scheme) {
      case 0: p.scheme = "even/odd"; p.color[i] = r % 2; break;
      case 1: p.scheme = "halves"; p.color[i] = r < nranks / 2 ? 0 : 1; break;
      case 2:
        p.scheme = "random colors, random keys";
        p.color[i] = 3 * static_cast<int>(rng.Below(ncolors)) + 1;
        p.key[i] = static_cast<int>(rng.Below(4));  // ties: by world rank
        break;
      case 3:
        p.scheme = "rank " + std::to_string(out) + " left out";
        p.color[i] = r == out ? MRD_SPLIT_NOCOLOR : 0;
        break;
      default: p.scheme = "one color, reversed"; p.key[i] = nranks - r; break;
    }
  }
  p.new_rank.assign(n, -1);
  p.new_size.assign(n, 0);
  p.members.assign(n, {});
  for (int r = 0; r < nranks; ++r) {
    const int c = p.color[static_cast<size_t>(r)];
    if (c == MRD_SPLIT_NOCOLOR) continue;
    std::vector<int> mine;
    for (int q = 0; q < nranks; ++q) {
      if (p.color[static_cast<size_t>(q)] == c) mine.push_back(q);
    }
    std::stable_sort(mine.begin(), mine.end(), [&p](int a, int b) {
      return p.key[static_cast<size_t>(a)] < p.key[static_cast<size_t>(b)];
    });
    const auto it = std::find(mine.begin(), mine.end(), r);
    p.new_rank[static_cast<size_t>(r)] = static_cast<int>(it - mine.begin());
    p.new_size[static_cast<size_t>(r)] = static_cast<int>(mine.size());
    p.members[static_cast<size_t>(r)] = mine;
  }
  return p;
}

}  // namespace soak
