#include "soak/op_run.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "common/data_check.h"

namespace soak {
namespace {

// Poisoned bytes before and after every buffer: the library must not write there.
constexpr size_t kGuard = 64;

}  // namespace

OpRun::OpRun(const OpSpec& spec, int rank, int nranks, std::string where)
    : spec_(spec),
      rank_(rank),
      nranks_(nranks),
      where_(std::move(where)),
      values_(spec, nranks),
      es_(mrdperf::TypeSize(spec.type)),
      poison_(static_cast<unsigned char>(spec.key >> 56)) {
  const size_t c = spec.count, n = static_cast<size_t>(nranks);
  const bool root = rank == spec.root;
  switch (spec.coll) {
    case Coll::kAllReduce: send_elems_ = c; recv_elems_ = c; break;
    case Coll::kReduce:
      send_elems_ = c;
      recv_elems_ = root || spec.in_place ? c : 0;  // in place, non-roots check it unchanged
      break;
    case Coll::kBroadcast: send_elems_ = root ? c : 0; recv_elems_ = c; break;
    case Coll::kAllGather: send_elems_ = c; recv_elems_ = n * c; break;
    case Coll::kReduceScatter: send_elems_ = n * c; recv_elems_ = c; break;
    case Coll::kAlltoAll: send_elems_ = n * c; recv_elems_ = n * c; break;
    case Coll::kGather: send_elems_ = c; recv_elems_ = root ? n * c : 0; break;
    case Coll::kScatter: send_elems_ = root ? n * c : 0; recv_elems_ = c; break;
    case Coll::kSendRecv: send_elems_ = c; recv_elems_ = c; break;
    case Coll::kBarrier: break;
    case Coll::kAlltoAllv: {
      size_t sd = 0, rd = 0;
      for (int j = 0; j < nranks; ++j) {
        sendcounts_.push_back(Cnt(rank, j));
        sdispls_.push_back(sd);
        sd += sendcounts_.back() + Gap(rank, j, 0);
        recvcounts_.push_back(Cnt(j, rank));
        rdispls_.push_back(rd);
        rd += recvcounts_.back() + Gap(rank, j, 1);
      }
      send_elems_ = sd;
      recv_elems_ = rd;
      break;
    }
    case Coll::kNumColls: break;
  }
}

size_t OpRun::Cnt(int from, int to) const {
  // Uneven (the default): each pair its own count, so the ranks' totals
  // differ (the library once chose an alltoallv's channels from the rank's
  // own total and hung); balanced (--even-alltoallv): every rank sends and
  // receives the same multiset of counts (from -> to depends on to - from).
  const uint64_t n = static_cast<uint64_t>(nranks_);
  const uint64_t pair = spec_.uneven
                            ? static_cast<uint64_t>(from) * n + static_cast<uint64_t>(to)
                            : (static_cast<uint64_t>(to) + n - static_cast<uint64_t>(from)) % n;
  return Mix(spec_.key ^ 0xa2a0000ull ^ Mix(pair)) % (spec_.count + 1);
}

size_t OpRun::Gap(int a, int b, int side) const {
  const uint64_t pair = (static_cast<uint64_t>(a) * static_cast<uint64_t>(nranks_) + static_cast<uint64_t>(b)) * 2 + static_cast<uint64_t>(side);
  return Mix(spec_.key ^ 0x9a90000ull ^ Mix(pair)) % 4;
}

size_t OpRun::SendDispl(int from, int to) const {
  size_t d = 0;
  for (int q = 0; q < to; ++q) d += Cnt(from, q) + Gap(from, q, 0);
  return d;
}

void OpRun::Alloc(Region* r, size_t elems) {
  const size_t bytes = kGuard + spec_.align + elems * es_ + kGuard;
  r->mem.reset(new unsigned char[bytes]);
  std::memset(r->mem.get(), poison_, bytes);
  r->elems = elems;
  r->data = r->mem.get() + kGuard + spec_.align;
}

void OpRun::Prepare() {
  const size_t c = spec_.count, n = static_cast<size_t>(nranks_);
  const size_t me = static_cast<size_t>(rank_);
  if (!spec_.in_place) {
    Alloc(&send_, send_elems_);
    values_.Fill(send_.data, rank_, 0, send_elems_);
    Alloc(&recv_, recv_elems_);
    send_ptr_ = send_.data;
    recv_ptr_ = recv_.data;
    return;
  }
  switch (spec_.coll) {
    case Coll::kAllGather:
      Alloc(&recv_, n * c);
      send_ptr_ = recv_.data + me * c * es_;
      recv_ptr_ = recv_.data;
      values_.Fill(send_ptr_, rank_, 0, c);
      break;
    case Coll::kReduceScatter:
      Alloc(&recv_, n * c);
      send_ptr_ = recv_.data;
      recv_ptr_ = recv_.data + me * c * es_;
      values_.Fill(send_ptr_, rank_, 0, n * c);
      break;
    default:  // allreduce, reduce, broadcast: one buffer of count elements
      Alloc(&recv_, c);
      send_ptr_ = recv_ptr_ = recv_.data;
      if (spec_.coll != Coll::kBroadcast || rank_ == spec_.root) values_.Fill(send_ptr_, rank_, 0, c);
      break;
  }
}

mrdResult_t OpRun::CreateOp(mrdComm_t comm) {
  red_op_ = IsReduction(spec_.coll) && spec_.op != kPreMulSum ? static_cast<mrdRedOp_t>(spec_.op) : mrdSum;
  if (!IsReduction(spec_.coll) || spec_.op != kPreMulSum) return mrdSuccess;
  uint64_t scalar = values_.ScalarBits(rank_);
  const mrdResult_t r = mrdRedOpCreatePreMulSum(&red_op_, &scalar, spec_.type, mrdScalarHostImmediate, comm);
  op_created_ = r == mrdSuccess;
  return r;
}

mrdResult_t OpRun::DestroyOp(mrdComm_t comm) {
  if (!op_created_) return mrdSuccess;
  op_created_ = false;
  return mrdRedOpDestroy(red_op_, comm);
}

mrdResult_t OpRun::Issue(mrdComm_t comm, mrdStream_t s, const char** call) {
  const size_t c = spec_.count;
  const mrdDataType_t t = spec_.type;
  const int root = spec_.root;
  switch (spec_.coll) {
    case Coll::kAllReduce:
      *call = "mrdAllReduce";
      return mrdAllReduce(send_ptr_, recv_ptr_, c, t, red_op_, comm, s);
    case Coll::kReduce:
      *call = "mrdReduce";
      return mrdReduce(send_ptr_, recv_ptr_, c, t, red_op_, root, comm, s);
    case Coll::kBroadcast:
      *call = "mrdBroadcast";
      return mrdBroadcast(spec_.null_send && rank_ != root ? nullptr : send_ptr_, recv_ptr_, c, t, root, comm, s);
    case Coll::kAllGather:
      *call = "mrdAllGather";
      return mrdAllGather(send_ptr_, recv_ptr_, c, t, comm, s);
    case Coll::kReduceScatter:
      *call = "mrdReduceScatter";
      return mrdReduceScatter(send_ptr_, recv_ptr_, c, t, red_op_, comm, s);
    case Coll::kAlltoAll:
      *call = "mrdAlltoAll";
      return mrdAlltoAll(send_ptr_, recv_ptr_, c, t, comm, s);
    case Coll::kAlltoAllv:
      *call = "mrdAlltoAllv";
      return mrdAlltoAllv(send_ptr_, sendcounts_.data(), sdispls_.data(), recv_ptr_,
                          recvcounts_.data(), rdispls_.data(), t, comm, s);
    case Coll::kGather:
      *call = "mrdGather";
      return mrdGather(send_ptr_, recv_ptr_, c, t, root, comm, s);
    case Coll::kScatter:
      *call = "mrdScatter";
      return mrdScatter(send_ptr_, recv_ptr_, c, t, root, comm, s);
    case Coll::kSendRecv: {
      const int to = (rank_ + root) % nranks_, from = (rank_ - root + nranks_) % nranks_;
      *call = "mrdGroupStart";
      mrdResult_t r = mrdGroupStart();
      if (r != mrdSuccess) return r;
      *call = "mrdSend";
      r = mrdSend(send_ptr_, c, t, to, comm, s);
      if (r == mrdSuccess) {
        *call = "mrdRecv";
        r = mrdRecv(recv_ptr_, c, t, from, comm, s);
      }
      const mrdResult_t end = mrdGroupEnd();
      if (r == mrdSuccess) *call = "mrdGroupEnd";
      return r != mrdSuccess ? r : end;
    }
    case Coll::kBarrier:
      *call = "mrdBarrier";
      return mrdBarrier(comm, s);
    case Coll::kNumColls: break;
  }
  *call = "(none)";
  return mrdInvalidUsage;
}

int64_t OpRun::Check(int world_rank, PrintBudget* budget, bool* corrupt) {
  if (*corrupt && recv_elems_ > 0) {
    recv_ptr_[0] ^= 1;  // the lowest bit of the first checked element
    *corrupt = false;
    std::fprintf(stderr, "soak: rank %d: --corrupt-once: flipped a bit of element 0 of %s\n",
                 world_rank, Text().c_str());
  }
  int64_t wrong = 0;
  int printed = 0;
  auto report = [&](const char* what, size_t k, const std::string& want, const std::string& got) {
    ++wrong;
    if (budget->total <= 0 || printed >= budget->per_op) return;
    --budget->total;
    ++printed;
    std::fprintf(stderr, "soak: rank %d: WRONG %s: %s %zu: expected %s, got %s\n", world_rank,
                 Text().c_str(), what, k, want.c_str(), got.c_str());
  };
  auto input = [&](const char* what, size_t k, const unsigned char* e, int src, size_t idx) {
    if (!values_.MatchesInput(e, src, idx)) report(what, k, values_.InputText(src, idx), values_.ElemText(e));
  };
  auto reduced = [&](size_t k, const unsigned char* e, size_t idx) {
    if (!values_.MatchesReduced(e, idx)) report("element", k, values_.ReducedText(idx), values_.ElemText(e));
  };
  const size_t c = spec_.count, me = static_cast<size_t>(rank_);
  const int root = spec_.root;
  for (size_t k = 0; k < recv_elems_ && spec_.coll != Coll::kAlltoAllv; ++k) {
    const unsigned char* e = recv_ptr_ + k * es_;
    switch (spec_.coll) {
      case Coll::kAllReduce: reduced(k, e, k); break;
      case Coll::kReduce:
        if (rank_ == root) {
          reduced(k, e, k);
        } else {
          input("non-root buffer (must be unchanged) element", k, e, rank_, k);
        }
        break;
      case Coll::kBroadcast: input("element", k, e, root, k); break;
      case Coll::kAllGather:
      case Coll::kGather: input("element", k, e, static_cast<int>(k / c), k % c); break;
      case Coll::kReduceScatter: reduced(k, e, me * c + k); break;
      case Coll::kAlltoAll: input("element", k, e, static_cast<int>(k / c), me * c + k % c); break;
      case Coll::kScatter: input("element", k, e, root, me * c + k); break;
      case Coll::kSendRecv:
        input("element", k, e, (rank_ - root + nranks_) % nranks_, k);
        break;
      default: break;
    }
  }
  if (spec_.coll == Coll::kAlltoAllv) {
    size_t pos = 0;
    for (int j = 0; j < nranks_; ++j) {
      const size_t from = SendDispl(j, rank_);
      for (size_t i = 0; i < recvcounts_[static_cast<size_t>(j)]; ++i, ++pos) {
        input("element", pos, recv_ptr_ + pos * es_, j, from + i);
      }
      const size_t end = j + 1 < nranks_ ? rdispls_[static_cast<size_t>(j) + 1] : recv_elems_;
      for (; pos < end; ++pos) {  // a gap between blocks: must stay poisoned
        const unsigned char* e = recv_ptr_ + pos * es_;
        if (std::count(e, e + es_, poison_) != static_cast<ptrdiff_t>(es_)) {
          report("gap element (must be untouched)", pos, "poison", values_.ElemText(e));
        }
      }
    }
  }
  // The send buffer of an out-of-place call must be unchanged.
  for (size_t k = 0; !spec_.in_place && k < send_.elems; ++k) {
    input("send buffer (must be unchanged) element", k, send_.data + k * es_, rank_, k);
  }
  // Guard bytes around each buffer.
  for (const Region* r : {&send_, &recv_}) {
    if (r->mem == nullptr) continue;
    const unsigned char* lo = r->mem.get();
    const unsigned char* hi = r->data + r->elems * es_;
    const size_t before = static_cast<size_t>(r->data - lo);
    const size_t bad_before = before - static_cast<size_t>(std::count(lo, static_cast<const unsigned char*>(r->data), poison_));
    const size_t bad_after = kGuard - static_cast<size_t>(std::count(hi, hi + kGuard, poison_));
    if (bad_before + bad_after != 0) {
      wrong += static_cast<int64_t>(bad_before + bad_after);
      std::fprintf(stderr, "soak: rank %d: WRONG %s: %zu guard bytes before and %zu after the %s buffer overwritten\n",
                   world_rank, Text().c_str(), bad_before, bad_after, r == &send_ ? "send" : "receive");
    }
  }
  return wrong;
}

size_t OpRun::Bytes() const {
  const size_t elems = spec_.in_place ? recv_.elems : std::max(send_.elems, recv_.elems);
  return elems * es_;
}

std::string OpRun::Text() const {
  return "op " + std::to_string(spec_.index) + " (" + where_ + "): " + Describe(spec_);
}

}  // namespace soak
