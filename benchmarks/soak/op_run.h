// One soak operation on this rank: its buffers (each region fenced by
// poisoned guard bytes), the call, and the check of every element.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "meridian/meridian.h"
#include "soak/expected.h"
#include "soak/random_op.h"

namespace soak {

// Mismatches printed per rank over the whole run, and per operation.
struct PrintBudget {
  int total = 12;
  int per_op = 4;
};

class OpRun {
 public:
  // rank, nranks: in the operation's communicator; where: for messages
  // ("world", "split 3 color 1").
  OpRun(const OpSpec& spec, int rank, int nranks, std::string where);

  // Allocates, poisons and fills the buffers.
  void Prepare();
  // The pre-multiplied sum needs an op made on the communicator first.
  mrdResult_t CreateOp(mrdComm_t comm);
  mrdResult_t DestroyOp(mrdComm_t comm);
  // Issues the call(s); on failure *call names the failing one.
  mrdResult_t Issue(mrdComm_t comm, mrdStream_t stream, const char** call);
  // Counts wrong elements (result, unchanged send buffer, guard bytes);
  // prints the first few. corrupt: flip one received element first (tests
  // that the check can fail), then clear *corrupt.
  int64_t Check(int world_rank, PrintBudget* budget, bool* corrupt);

  const OpSpec& spec() const { return spec_; }
  // Bytes this rank's call sends or receives (the larger buffer).
  size_t Bytes() const;
  std::string Text() const;  // "op 17 (world, 4 ranks): allreduce ..."

 private:
  struct Region {
    std::unique_ptr<unsigned char[]> mem;
    size_t elems = 0;  // data elements
    unsigned char* data = nullptr;
  };
  void Alloc(Region* r, size_t elems);
  size_t SendDispl(int from, int to) const;  // alltoallv: rank from's sdispls[to]
  size_t Cnt(int from, int to) const;        // alltoallv: elements from -> to
  size_t Gap(int a, int b, int side) const;

  OpSpec spec_;
  int rank_;
  int nranks_;
  std::string where_;
  Values values_;
  size_t es_;
  unsigned char poison_;
  mrdRedOp_t red_op_ = mrdSum;
  bool op_created_ = false;
  Region send_, recv_;  // in place: recv_ only
  unsigned char* send_ptr_ = nullptr;
  unsigned char* recv_ptr_ = nullptr;
  size_t send_elems_ = 0;  // elements the call reads from send_ptr_ (out of place)
  size_t recv_elems_ = 0;  // elements checked at recv_ptr_
  std::vector<size_t> sendcounts_, sdispls_, recvcounts_, rdispls_;
};

}  // namespace soak
