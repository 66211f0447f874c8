// A schedule: what one rank does for one operation (or one group of them),
// as steps with dependencies. Algorithms build schedules; the executor runs
// them. Transfers to one peer on one channel start in the order they appear
// here, which is how both ends agree on what each message is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "core/coll_request.h"

namespace mrd {

enum class StepKind { kSend, kRecv, kReduce, kCopy, kScale, kDivide };

struct Step {
  StepKind kind;
  int peer = -1;       // send/recv
  int channel = 0;     // send/recv
  const void* a = nullptr;  // send: source; reduce: first operand; copy/scale: source
  const void* b = nullptr;  // reduce: second operand
  void* dst = nullptr;      // recv: destination; reduce/copy/scale/divide: output
  size_t bytes = 0;         // send/recv/copy
  size_t count = 0;         // reduce/scale/divide: elements
  uint32_t depBegin = 0;    // range in Schedule::deps
  uint32_t depCount = 0;
};

// Scratch memory owned by the communicator and reused from one operation to
// the next; blocks handed out for one schedule stay valid until it ends.
class ScratchPool {
 public:
  char* take(size_t bytes);
  void releaseAll() { used_ = 0; }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<size_t> sizes_;
  size_t used_ = 0;
};

class Schedule {
 public:
  // Appends a step that starts after every step in deps (negative: none) is
  // done. Returns its index.
  int add(const Step& s, std::initializer_list<int> deps = {});
  int send(int peer, int channel, const void* src, size_t bytes, std::initializer_list<int> deps);
  int recv(int peer, int channel, void* dst, size_t bytes, std::initializer_list<int> deps);
  int reduce(void* dst, const void* a, const void* b, size_t count,
             std::initializer_list<int> deps);
  int copy(void* dst, const void* src, size_t bytes, std::initializer_list<int> deps);

  void clear();
  bool empty() const { return steps_.empty(); }
  const std::vector<Step>& steps() const { return steps_; }
  const std::vector<uint32_t>& deps() const { return deps_; }

  // Element type and reduction of Reduce/Scale/Divide steps of this schedule.
  // A group mixes operations, so each step range records its own.
  struct Typed {
    size_t firstStep;
    mrdDataType_t type;
    ReduceSpec spec;
    int nranks;
  };
  std::vector<Typed> typed;  // sorted by firstStep
  void beginOperation(mrdDataType_t t, const ReduceSpec& spec, int nranks);
  const Typed& typedFor(size_t step) const;

 private:
  std::vector<Step> steps_;
  std::vector<uint32_t> deps_;
};

}  // namespace mrd
