#include "link_fault/op_check.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>

#include "common/perf_driver.h"

namespace mrdlinkfault {
namespace {

// Small integers, so every sum is exact in float32.
constexpr int kPattern = 251;

// The position term shifts with the iteration too, so a chunk from any of
// the last kPattern operations is wrong here.
int64_t Position(size_t i, int64_t iter) { return static_cast<int64_t>((i + static_cast<size_t>(iter)) % kPattern); }

float AllReduceInput(int rank, int64_t iter, size_t i) {
  return static_cast<float>((rank + 1) * (iter % 7 + 1) + Position(i, iter));
}

float AllToAllValue(int from, int to, int64_t iter, size_t k) {
  return static_cast<float>(from * 512 + static_cast<int64_t>((k + iter * 3 + to) % kPattern));
}

}  // namespace

bool ParseColl(const std::string& name, Coll* out) {
  if (name == "allreduce" || name == "all_reduce") {
    *out = Coll::kAllReduce;
  } else if (name == "alltoall") {
    *out = Coll::kAllToAll;
  } else {
    return false;
  }
  return true;
}

const char* CollName(Coll coll) { return coll == Coll::kAllReduce ? "allreduce" : "alltoall"; }

double BusFactor(Coll coll, int nranks) {
  return coll == Coll::kAllReduce ? 2.0 * (nranks - 1) / nranks : (nranks - 1) / double(nranks);
}

OpCheck::OpCheck(int rank, int nranks, size_t bytes)
    : rank_(rank),
      nranks_(nranks),
      count_(bytes / sizeof(float) < 1 ? 1 : bytes / sizeof(float)),
      block_(bytes / sizeof(float) / nranks < 1 ? 1 : bytes / sizeof(float) / nranks),
      send_(std::max(count_, block_ * nranks)),
      recv_(send_.size()) {}

void OpCheck::FillAllReduce(int64_t iter) {
  for (size_t i = 0; i < count_; ++i) send_[i] = AllReduceInput(rank_, iter, i);
}

void OpCheck::FillAllToAll(int64_t iter) {
  for (int p = 0; p < nranks_; ++p) {
    float* out = &send_[static_cast<size_t>(p) * block_];
    for (size_t k = 0; k < block_; ++k) out[k] = AllToAllValue(rank_, p, iter, k);
  }
}

void OpCheck::ReportWrong(int64_t iter, Coll coll, int64_t nwrong, size_t at, int from, float got,
                          float want) const {
  std::fprintf(stderr,
               "rank %d: operation %" PRId64 " (%s): %" PRId64
               " wrong elements; first at element %zu (from rank %d): got %g, expected %g\n",
               rank_, iter, CollName(coll), nwrong, at, from, static_cast<double>(got),
               static_cast<double>(want));
}

int64_t OpCheck::CheckAllReduce(int64_t iter) {
  const int64_t n = nranks_;
  const float base = static_cast<float>((iter % 7 + 1) * n * (n + 1) / 2);
  int64_t nwrong = 0;
  size_t first = 0;
  for (size_t i = 0; i + 1 < count_; ++i) {  // the last element carries the stop votes
    const float want = base + static_cast<float>(n * Position(i, iter));
    if (recv_[i] != want) {
      if (nwrong++ == 0) first = i;
    }
  }
  if (nwrong > 0) {
    ReportWrong(iter, Coll::kAllReduce, nwrong, first, -1, recv_[first],
                base + static_cast<float>(n * Position(first, iter)));
  }
  return nwrong;
}

int64_t OpCheck::CheckAllToAll(int64_t iter) {
  int64_t nwrong = 0;
  size_t first = 0;
  for (int from = 0; from < nranks_; ++from) {
    const float* in = &recv_[static_cast<size_t>(from) * block_];
    for (size_t k = 0; k + 1 < block_; ++k) {
      if (in[k] != AllToAllValue(from, rank_, iter, k)) {
        if (nwrong++ == 0) first = static_cast<size_t>(from) * block_ + k;
      }
    }
  }
  if (nwrong > 0) {
    const int from = static_cast<int>(first / block_);
    ReportWrong(iter, Coll::kAllToAll, nwrong, first, from, recv_[first],
                AllToAllValue(from, rank_, iter, first % block_));
  }
  return nwrong;
}

int64_t OpCheck::Run(mrdComm_t comm, Coll coll, int64_t iter, bool want_stop, double* op_ms) {
  const int which = coll == Coll::kAllReduce ? 0 : 1;
  if (check_ || !filled_[which]) {
    if (coll == Coll::kAllReduce) FillAllReduce(iter); else FillAllToAll(iter);
    filled_[which] = true;
  }
  const float vote = want_stop ? 1.0f : 0.0f;
  if (coll == Coll::kAllReduce) {
    send_[count_ - 1] = vote;
  } else {
    for (int p = 0; p < nranks_; ++p) send_[(static_cast<size_t>(p) + 1) * block_ - 1] = vote;
  }
  const auto t0 = std::chrono::steady_clock::now();
  if (coll == Coll::kAllReduce) {
    mrdperf::CheckCall(rank_, comm, "mrdAllReduce",
                       mrdAllReduce(send_.data(), recv_.data(), count_, mrdFloat32, mrdSum, comm,
                                    nullptr));
  } else {
    mrdperf::CheckCall(rank_, comm, "mrdAlltoAll",
                       mrdAlltoAll(send_.data(), recv_.data(), block_, mrdFloat32, comm, nullptr));
  }
  if (op_ms != nullptr) {
    *op_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  stop_agreed_ = false;
  if (coll == Coll::kAllReduce) {
    stop_agreed_ = recv_[count_ - 1] > 0.5f;
  } else {
    for (int p = 0; p < nranks_; ++p) {
      stop_agreed_ = stop_agreed_ || recv_[(static_cast<size_t>(p) + 1) * block_ - 1] > 0.5f;
    }
  }
  if (!check_) return 0;
  return coll == Coll::kAllReduce ? CheckAllReduce(iter) : CheckAllToAll(iter);
}

}  // namespace mrdlinkfault
