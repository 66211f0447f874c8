// link_fault_perf's operations: fills the inputs of one allreduce or
// alltoall with values that depend on rank, position and iteration (exact in
// float32, so a chunk that lands in the wrong place or comes from the wrong
// operation shows), runs it, checks every element, and carries each rank's
// "stop" vote in the last element of each block so all ranks end after the
// same operation without an extra collective.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "meridian/meridian.h"

namespace mrdlinkfault {

enum class Coll { kAllReduce, kAllToAll };

bool ParseColl(const std::string& name, Coll* out);
const char* CollName(Coll coll);
// busbw / algbw, as nccl-tests.
double BusFactor(Coll coll, int nranks);

class OpCheck {
 public:
  // bytes: of each rank's send buffer.
  OpCheck(int rank, int nranks, size_t bytes);

  // Runs operation `iter` of `coll`; *op_ms (if given) gets the time of the
  // call alone. Returns the number of wrong elements on this rank (0 when
  // checking is off) and prints the first one. Ends the process on an error
  // from the library, naming the call.
  int64_t Run(mrdComm_t comm, Coll coll, int64_t iter, bool want_stop, double* op_ms);
  void set_check(bool on) { check_ = on; }
  // Whether some rank voted to stop in the last operation.
  bool stop_agreed() const { return stop_agreed_; }

 private:
  void FillAllReduce(int64_t iter);
  void FillAllToAll(int64_t iter);
  int64_t CheckAllReduce(int64_t iter);
  int64_t CheckAllToAll(int64_t iter);
  void ReportWrong(int64_t iter, Coll coll, int64_t nwrong, size_t at, int from, float got,
                   float want) const;

  const int rank_, nranks_;
  const size_t count_;        // allreduce elements
  const size_t block_;        // alltoall elements per peer
  std::vector<float> send_, recv_;
  bool check_ = true;
  bool filled_[2] = {false, false};  // with checking off, inputs are filled once
  bool stop_agreed_ = false;
};

}  // namespace mrdlinkfault
