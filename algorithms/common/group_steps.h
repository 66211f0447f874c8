// Building blocks for algorithms that run phases over subsets of the ranks
// (the ranks of one host, the same local rank on every host, the host
// leaders): a ring reduce-scatter or allgather over a group, and a
// pipelined line (chain) reduce or broadcast, all on one shared buffer cut
// into slices.
//
// The buffer records for each slice the step that last wrote it and the
// steps that read it since, so one phase's step on a slice waits for
// exactly the earlier phase's steps on that slice: phases pipeline slice by
// slice without any barrier between them. Every rank of a group must pass
// the same blocks (same slice ids, same ranges, same order) for the two
// ends of each message to agree.
#pragma once

#include <array>
#include <vector>

#include "common/partition.h"

namespace mrd::algo {

// A buffer cut into slices (element ranges) with their hazards.
class TrackedBuffer {
 public:
  TrackedBuffer(char* base, size_t typeSize, Schedule* out)
      : base_(base), ts_(typeSize), out_(out) {}

  int addSlice(Range r) {
    slices_.push_back(Slice{r});
    return static_cast<int>(slices_.size()) - 1;
  }
  size_t slices() const { return slices_.size(); }
  const Range& range(int s) const { return at_(s).range; }
  size_t typeSize() const { return ts_; }
  char* base() const { return base_; }
  char* ptr(int s) const { return base_ + at_(s).range.begin * ts_; }
  size_t bytes(int s) const { return at_(s).range.count * ts_; }

  // The step that last wrote slice s (-1: none, so far).
  int produced(int s) const { return at_(s).produced; }
  // The steps a new writer of slice s must wait for: its last writer and
  // every reader since.
  std::array<int, 3> writeDeps(int s) const {
    const Slice& sl = at_(s);
    return {sl.produced, sl.readers[0], sl.readers[1]};
  }
  void wrote(int s, int step);
  void read(int s, int step);
  // Marks every slice written by `step` (for a step that filled them all).
  void wroteAll(const std::vector<int>& ids, int step) {
    for (int s : ids) wrote(s, step);
  }

 private:
  struct Slice {
    Range range;
    int produced = -1;
    int readers[2] = {-1, -1};
  };
  const Slice& at_(int s) const { return slices_[static_cast<size_t>(s)]; }
  char* base_;
  size_t ts_;
  Schedule* out_;
  std::vector<Slice> slices_;
};

// A ring over some ranks, in ring order; `me` is this rank's index in it.
struct GroupRing {
  std::vector<int> ranks;
  int me = 0;
  int channel = 0;
};

// Slice ids of each group member's block, in the order they travel.
using Blocks = std::vector<std::vector<int>>;

// Where a reduce-scatter puts the final results of this rank's block when
// not in the buffer: element e of the buffer goes to base + (e - origin).
struct Relocation {
  char* base = nullptr;
  size_t origin = 0;
};

// Ring reduce-scatter of blocks (one per member) over the group: member b
// ends with block b reduced over every member's input. Each rank's input
// for slice x is input + range(x).begin elements (it may be the buffer
// itself, whose writer of x is waited for), ready after inputReady. Partial
// sums are written into the buffer; the final ones too, or to *final when
// given. With `divide`, the final results are divided (Avg). `slots` hold
// incoming partial sums.
void groupReduceScatter(const GroupRing& g, const Blocks& blocks, const char* input,
                        int inputReady, bool divide, TrackedBuffer* buf, SlotRing* slots,
                        Schedule* out, const Relocation* final = nullptr);

// Ring allgather over the group: member b starts with block b in the
// buffer; every member ends with all of them.
void groupAllGather(const GroupRing& g, const Blocks& blocks, TrackedBuffer* buf, Schedule* out);

// Pipelined reduce along a line (line[0] is the root; data flows from the
// last member towards it): each member but the last adds its input to the
// partial sum from the next member into the buffer and passes it on, so
// line[0] ends with the sum over the line in the buffer.
void lineReduce(const std::vector<int>& line, int me, const std::vector<int>& slices,
                int channel, const char* input, int inputReady, TrackedBuffer* buf,
                SlotRing* slots, Schedule* out);

// Pipelined broadcast along a line: line[0] has the slices (in the buffer,
// or at source + range(x).begin when source is given), every other member
// receives them into the buffer from the previous one and passes them on.
// owner (optional, per slice id): a member whose rank owns a slice already
// has it and is neither sent it nor receives it.
void lineBroadcast(const std::vector<int>& line, int me, const std::vector<int>& slices,
                   int channel, TrackedBuffer* buf, Schedule* out, const char* source = nullptr,
                   const std::vector<int>* owner = nullptr);

// Cuts `r` into slices for pipelining, appending their ids to *ids.
inline void cutSlices(TrackedBuffer* buf, Range r, const PlanContext& ctx, std::vector<int>* ids) {
  size_t ns = sliceCount(r.count, buf->typeSize(), ctx);
  for (size_t k = 0; k < ns; ++k) {
    Range s = evenPart(r.count, ns, k);
    s.begin += r.begin;
    ids->push_back(buf->addSlice(s));
  }
}

// The slice ids of parts[order[0]], parts[order[1]], ... one after another.
inline std::vector<int> concatBlocks(const std::vector<std::vector<int>>& parts,
                                     const std::vector<int>& order) {
  std::vector<int> all;
  for (int i : order) {
    const auto& p = parts[static_cast<size_t>(i)];
    all.insert(all.end(), p.begin(), p.end());
  }
  return all;
}

// A local step with no effect that finishes when all of deps have.
int joinSteps(Schedule* out, char* anyValidAddress, std::initializer_list<int> deps);

}  // namespace mrd::algo
