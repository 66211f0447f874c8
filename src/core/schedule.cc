#include "core/schedule.h"

namespace mrd {

char* ScratchPool::take(size_t bytes) {
  // First fit among the blocks not yet handed out in this schedule.
  for (size_t i = used_; i < blocks_.size(); ++i) {
    if (sizes_[i] >= bytes) {
      std::swap(blocks_[i], blocks_[used_]);
      std::swap(sizes_[i], sizes_[used_]);
      return blocks_[used_++].get();
    }
  }
  size_t size = bytes < 4096 ? 4096 : bytes;
  blocks_.emplace_back(new char[size]);
  sizes_.push_back(size);
  std::swap(blocks_.back(), blocks_[used_]);
  std::swap(sizes_.back(), sizes_[used_]);
  return blocks_[used_++].get();
}

int Schedule::add(const Step& s, std::initializer_list<int> deps) {
  Step step = s;
  step.depBegin = static_cast<uint32_t>(deps_.size());
  for (int d : deps) {
    if (d >= 0) deps_.push_back(static_cast<uint32_t>(d));
  }
  step.depCount = static_cast<uint32_t>(deps_.size()) - step.depBegin;
  steps_.push_back(step);
  return static_cast<int>(steps_.size()) - 1;
}

int Schedule::send(int peer, int channel, const void* src, size_t bytes,
                   std::initializer_list<int> deps) {
  Step s{StepKind::kSend};
  s.peer = peer;
  s.channel = channel;
  s.a = src;
  s.bytes = bytes;
  return add(s, deps);
}

int Schedule::recv(int peer, int channel, void* dst, size_t bytes,
                   std::initializer_list<int> deps) {
  Step s{StepKind::kRecv};
  s.peer = peer;
  s.channel = channel;
  s.dst = dst;
  s.bytes = bytes;
  return add(s, deps);
}

int Schedule::reduce(void* dst, const void* a, const void* b, size_t count,
                     std::initializer_list<int> deps) {
  Step s{StepKind::kReduce};
  s.dst = dst;
  s.a = a;
  s.b = b;
  s.count = count;
  return add(s, deps);
}

int Schedule::copy(void* dst, const void* src, size_t bytes, std::initializer_list<int> deps) {
  if (dst == src || bytes == 0) return -1;
  Step s{StepKind::kCopy};
  s.dst = dst;
  s.a = src;
  s.bytes = bytes;
  return add(s, deps);
}

void Schedule::clear() {
  steps_.clear();
  deps_.clear();
  typed.clear();
}

void Schedule::beginOperation(mrdDataType_t t, const ReduceSpec& spec, int nranks) {
  typed.push_back(Typed{steps_.size(), t, spec, nranks});
}

const Schedule::Typed& Schedule::typedFor(size_t step) const {
  size_t i = typed.size() - 1;
  while (i > 0 && typed[i].firstStep > step) --i;
  return typed[i];
}

}  // namespace mrd
