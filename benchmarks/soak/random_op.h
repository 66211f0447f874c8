// What the soak runs: every choice (collective, size, datatype, op, root,
// in-place, communicator, issue mode, splits) is drawn from a seeded
// generator, so every rank draws the same sequence and a failure replays
// from its seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "meridian/meridian.h"

namespace soak {

// splitmix64's finaliser: a good 64-bit mix.
uint64_t Mix(uint64_t x);

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, n) (n > 0).
  uint64_t Below(uint64_t n);
  // Uniform in [lo, hi].
  int64_t Range(int64_t lo, int64_t hi);
  // True with probability num / den.
  bool Chance(uint64_t num, uint64_t den) { return Below(den) < num; }

 private:
  uint64_t state_;
};

enum class Coll {
  kAllReduce,
  kReduce,
  kBroadcast,
  kAllGather,
  kReduceScatter,
  kAlltoAll,
  kAlltoAllv,
  kGather,
  kScatter,
  kSendRecv,  // a group of mrdSend to rank + shift and mrdRecv from rank - shift
  kBarrier,
  kNumColls
};
constexpr int kNumColls = static_cast<int>(Coll::kNumColls);
const char* CollName(Coll c);
bool ParseColl(const std::string& name, Coll* out);
bool IsReduction(Coll c);  // allreduce, reduce, reduce_scatter
bool HasRoot(Coll c);      // reduce, broadcast, gather, scatter
// NCCL defines in-place for these five.
bool HasInPlace(Coll c);
// The count argument is per rank block (buffers hold nranks * count).
bool CountIsPerBlock(Coll c);

// The op index of the pre-multiplied sum (mrdRedOpCreatePreMulSum).
constexpr int kPreMulSum = mrdNumOps;
constexpr int kNumSoakOps = mrdNumOps + 1;
constexpr int kNoOp = -1;  // data movement
const char* SoakOpName(int op);

// What the draws may choose from (--colls, --types, --max-bytes).
struct Choices {
  std::vector<Coll> colls;            // default: all but barrier, plus barrier rarely
  std::vector<mrdDataType_t> types;   // default: all twelve
  std::vector<int> red_ops;           // default: sum, prod, max, min, avg, mulsum
  size_t max_bytes = 4u << 20;        // largest send or receive buffer of a rank
  bool splits = true;
  bool streams = true;
  bool groups = true;
  bool uneven_alltoallv = true;  // each pair its own alltoallv count (off: --even-alltoallv)
};

// One operation, identical on every rank of its communicator.
struct OpSpec {
  uint64_t index = 0;  // operation number in the run (the same on every rank)
  Coll coll = Coll::kAllReduce;
  mrdDataType_t type = mrdFloat32;
  int op = kNoOp;       // mrdRedOp_t or kPreMulSum for reductions
  int root = 0;         // rooted collectives; sendrecv: the shift
  size_t count = 0;     // the count argument of the call
  bool in_place = false;
  size_t align = 0;     // bytes added to the buffers' start (a multiple of the element size)
  uint64_t key = 0;     // the data of this operation (inputs are hashes of it)
  int scale_exp = 0;    // float sums: values are integers times 2^scale_exp
  int value_shift = 0;  // sums: the value range is narrowed by this many bits
  bool null_send = false;  // out-of-place broadcast: non-roots pass sendbuff = NULL
  bool uneven = false;     // alltoallv: ranks' totals differ (else only the pairs' counts)
};

// Draws the operation `index` for a communicator of `nranks` ranks; `group`
// (a split's color, -1 for the world) makes each split's draw its own.
OpSpec DrawOp(uint64_t seed, uint64_t index, int group, int nranks, const Choices& choices);

// "allreduce half sum count 1000 in-place" (and the root, shift, alignment).
std::string Describe(const OpSpec& op);

// How a step of operations is issued.
enum class Mode { kBlocking, kStream, kGroup, kGroupStream };
const char* ModeName(Mode m);

// A step: one to four operations on one communicator (the world or a split
// slot), issued in one mode; and whether to make or destroy a split first.
constexpr int kSplitSlots = 2;
struct StepPlan {
  int comm_slot = -1;  // -1: the world; else a split slot (when it holds a split)
  Mode mode = Mode::kBlocking;
  int nops = 1;
  int make_split = -1;     // slot to fill with a new split before the step
  int destroy_split = -1;  // slot to destroy before the step
};
StepPlan DrawStep(uint64_t seed, uint64_t step, const bool live[kSplitSlots],
                  const Choices& choices);

// The color and key of each world rank for split number `split_index`
// (MRD_SPLIT_NOCOLOR leaves a rank out): even/odd, halves, random colors,
// one rank left out, everyone in one color in reverse order.
struct SplitPlan {
  std::string scheme;
  std::vector<int> color;
  std::vector<int> key;
  // For rank r: its rank in its new communicator and that communicator's size
  // (-1 and 0 without a color), from the colors and keys as mrdCommSplit orders them.
  std::vector<int> new_rank;
  std::vector<int> new_size;
  // For rank r: the world ranks of its new communicator, in new-rank order.
  std::vector<std::vector<int>> members;
};
SplitPlan DrawSplit(uint64_t seed, uint64_t split_index, int nranks);

}  // namespace soak
