// A FIFO on a circular array that grows by doubling and never shrinks, so a
// steady stream of messages allocates nothing after warm-up.
#pragma once

#include <cstddef>
#include <vector>

namespace mrd {

template <typename T>
class RingQueue {
 public:
  explicit RingQueue(size_t capacity = 16) : items_(capacity) {}
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  T& front() { return items_[head_]; }
  T& at(size_t i) { return items_[(head_ + i) % items_.size()]; }
  void push(const T& v) {
    if (size_ == items_.size()) grow();
    items_[(head_ + size_) % items_.size()] = v;
    ++size_;
  }
  void pop() {
    head_ = (head_ + 1) % items_.size();
    --size_;
  }

 private:
  void grow() {
    std::vector<T> bigger(items_.size() * 2);
    for (size_t i = 0; i < size_; ++i) bigger[i] = at(i);
    items_.swap(bigger);
    head_ = 0;
  }
  std::vector<T> items_;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace mrd
