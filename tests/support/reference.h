// Serial reference implementations of every collective, and the input
// patterns that make their results exact for every datatype and op.
//
// Buffers are byte vectors holding elements of the datatype. Reductions see
// their inputs as numbers: the patterns use small integers chosen per type,
// op and rank count so that every partial sum or product in any order is
// exactly representable (so no reduction order can change a result), and
// the reference computes in double and rounds once to the type (avg on
// integers: the sum divided with C++ integer division, as NCCL does; avg
// on floats: the exact sum divided by nranks, correctly rounded, as
// Meridian documents). Data-movement collectives copy bytes, so their inputs
// are pseudo-random bytes (NaN patterns included) compared bit for bit.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/reduce.h"
#include "meridian/meridian.h"

namespace mrdtest {

using Buffer = std::vector<unsigned char>;

// The public op, with PreMulSum as one more kind (its handle is per comm).
enum class Op { kSum, kProd, kMax, kMin, kAvg, kPreMulSum };
constexpr Op kAllOps[] = {Op::kSum, Op::kMax, Op::kMin, Op::kProd, Op::kAvg, Op::kPreMulSum};

constexpr mrdDataType_t kAllTypes[] = {mrdInt8,    mrdUint8,    mrdInt32,      mrdUint32,
                                       mrdInt64,   mrdUint64,   mrdFloat16,    mrdFloat32,
                                       mrdFloat64, mrdBfloat16, mrdFloat8e4m3, mrdFloat8e5m2};

// Every byte of a receive buffer starts as this; data patterns never use it.
constexpr unsigned char kSentinel = 0xA5;

inline const char* opName(Op op) {
  switch (op) {
    case Op::kSum: return "Sum";
    case Op::kProd: return "Prod";
    case Op::kMax: return "Max";
    case Op::kMin: return "Min";
    case Op::kAvg: return "Avg";
    case Op::kPreMulSum: return "PreMulSum";
  }
  return "?";
}

// The builtin mrdRedOp_t of op (PreMulSum has none: create it per comm).
inline mrdRedOp_t builtinOp(Op op) {
  switch (op) {
    case Op::kSum: return mrdSum;
    case Op::kProd: return mrdProd;
    case Op::kMax: return mrdMax;
    case Op::kMin: return mrdMin;
    case Op::kAvg: return mrdAvg;
    case Op::kPreMulSum: break;
  }
  return mrdNumOps;
}

inline const char* typeName(mrdDataType_t t) {
  switch (t) {
    case mrdInt8: return "Int8";
    case mrdUint8: return "Uint8";
    case mrdInt32: return "Int32";
    case mrdUint32: return "Uint32";
    case mrdInt64: return "Int64";
    case mrdUint64: return "Uint64";
    case mrdFloat16: return "Float16";
    case mrdFloat32: return "Float32";
    case mrdFloat64: return "Float64";
    case mrdBfloat16: return "Bfloat16";
    case mrdFloat8e4m3: return "Float8e4m3";
    case mrdFloat8e5m2: return "Float8e5m2";
    default: break;
  }
  return "Unknown";
}

inline size_t typeSize(mrdDataType_t t) {
  switch (t) {
    case mrdInt8:
    case mrdUint8:
    case mrdFloat8e4m3:
    case mrdFloat8e5m2: return 1;
    case mrdFloat16:
    case mrdBfloat16: return 2;
    case mrdInt32:
    case mrdUint32:
    case mrdFloat32: return 4;
    case mrdInt64:
    case mrdUint64:
    case mrdFloat64: return 8;
    default: break;
  }
  return 0;
}

inline bool isFloatType(mrdDataType_t t) {
  return t == mrdFloat16 || t == mrdFloat32 || t == mrdFloat64 || t == mrdBfloat16 ||
         t == mrdFloat8e4m3 || t == mrdFloat8e5m2;
}

inline bool isUnsignedType(mrdDataType_t t) {
  return t == mrdUint8 || t == mrdUint32 || t == mrdUint64;
}

// Every integer of magnitude <= this is exactly representable in t (capped:
// the patterns never need more).
inline int64_t exactIntLimit(mrdDataType_t t) {
  switch (t) {
    case mrdInt8: return 127;
    case mrdUint8: return 255;
    case mrdFloat16: return 2048;
    case mrdBfloat16: return 256;
    case mrdFloat8e4m3: return 16;
    case mrdFloat8e5m2: return 8;
    default: break;
  }
  return int64_t{1} << 20;
}

// ---- Element access as numbers ----

inline double loadElem(mrdDataType_t t, const void* buf, size_t i) {
  const unsigned char* p = static_cast<const unsigned char*>(buf) + i * typeSize(t);
  switch (t) {
    case mrdInt8: {
      int8_t v;
      std::memcpy(&v, p, 1);
      return v;
    }
    case mrdUint8: return *p;
    case mrdInt32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case mrdUint32: {
      uint32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case mrdInt64: {
      int64_t v;
      std::memcpy(&v, p, 8);
      return static_cast<double>(v);
    }
    case mrdUint64: {
      uint64_t v;
      std::memcpy(&v, p, 8);
      return static_cast<double>(v);
    }
    case mrdFloat16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return mrd::halfToFloat(v);
    }
    case mrdFloat32: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case mrdFloat64: {
      double v;
      std::memcpy(&v, p, 8);
      return v;
    }
    case mrdBfloat16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return mrd::bf16ToFloat(v);
    }
    case mrdFloat8e4m3: return mrd::fp8e4m3ToFloat(*p);
    case mrdFloat8e5m2: return mrd::fp8e5m2ToFloat(*p);
    default: break;
  }
  return 0;
}

// Stores v rounded to nearest even (floats; narrow formats through float,
// which is exact for the single operations the reference rounds) or
// converted (integers: v is always an in-range integer here).
inline void storeElem(mrdDataType_t t, void* buf, size_t i, double v) {
  unsigned char* p = static_cast<unsigned char*>(buf) + i * typeSize(t);
  switch (t) {
    case mrdInt8: {
      int8_t x = static_cast<int8_t>(v);
      std::memcpy(p, &x, 1);
      break;
    }
    case mrdUint8: {
      uint8_t x = static_cast<uint8_t>(v);
      std::memcpy(p, &x, 1);
      break;
    }
    case mrdInt32: {
      int32_t x = static_cast<int32_t>(v);
      std::memcpy(p, &x, 4);
      break;
    }
    case mrdUint32: {
      uint32_t x = static_cast<uint32_t>(v);
      std::memcpy(p, &x, 4);
      break;
    }
    case mrdInt64: {
      int64_t x = static_cast<int64_t>(v);
      std::memcpy(p, &x, 8);
      break;
    }
    case mrdUint64: {
      uint64_t x = static_cast<uint64_t>(v);
      std::memcpy(p, &x, 8);
      break;
    }
    case mrdFloat16: {
      uint16_t x = mrd::floatToHalf(static_cast<float>(v));
      std::memcpy(p, &x, 2);
      break;
    }
    case mrdFloat32: {
      float x = static_cast<float>(v);
      std::memcpy(p, &x, 4);
      break;
    }
    case mrdFloat64: std::memcpy(p, &v, 8); break;
    case mrdBfloat16: {
      uint16_t x = mrd::floatToBf16(static_cast<float>(v));
      std::memcpy(p, &x, 2);
      break;
    }
    case mrdFloat8e4m3: *p = mrd::floatToFp8e4m3(static_cast<float>(v)); break;
    case mrdFloat8e5m2: *p = mrd::floatToFp8e5m2(static_cast<float>(v)); break;
    default: break;
  }
}

// ---- Patterns ----

inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The scalar of the PreMulSum op the tests create for type t: -0.5 for
// floats (exact scaling), 3 / -3 for unsigned / signed integers.
inline double preMulScalar(mrdDataType_t t) {
  if (isFloatType(t)) return -0.5;
  return isUnsignedType(t) ? 3.0 : -3.0;
}

// The scalar's bytes in type t, for mrdRedOpCreatePreMulSum.
inline Buffer preMulScalarBytes(mrdDataType_t t) {
  Buffer b(8, 0);
  storeElem(t, b.data(), 0, preMulScalar(t));
  return b;
}

// Input element i of rank for a reduction with op over nranks ranks.
//   Prod: magnitudes in {1, 2} with at most ceil(nranks/4) twos per index,
//     signs -1/+1 for signed types: |product| <= 4 for up to 8 ranks.
//   Max/Min: integers in [-6, 6] (unsigned: [0, 12]) within the type's range.
//   Sum/Avg/PreMulSum: integers whose absolute sum over all ranks (times
//     |scalar| for integer PreMulSum) stays within exactIntLimit.
inline double reductionInput(Op op, mrdDataType_t t, int nranks, int rank, size_t i) {
  const uint64_t h = mix64((static_cast<uint64_t>(i) << 8) ^ static_cast<uint64_t>(rank) ^
                           (static_cast<uint64_t>(op) << 56));
  const bool isSigned = !isUnsignedType(t);
  if (op == Op::kProd) {
    const bool two = (i * 3 + static_cast<size_t>(rank)) % 4 == 0;
    const bool negative = isSigned && (h % 3 == 1);
    const double mag = two ? 2.0 : 1.0;
    return negative ? -mag : mag;
  }
  int64_t limit = exactIntLimit(t);
  if (op != Op::kMax && op != Op::kMin) {
    int64_t growth = static_cast<int64_t>(nranks);
    if (op == Op::kPreMulSum && !isFloatType(t)) growth *= 3;
    limit /= growth;
  }
  const int64_t span = std::max<int64_t>(1, std::min<int64_t>(12, limit));
  const int64_t v = static_cast<int64_t>(h % static_cast<uint64_t>(span + 1));
  return static_cast<double>(isSigned ? v - span / 2 : v);
}

// The exact result of reducing vals (one per rank) with op, as the value
// the library must store (before rounding to t, which storeElem does).
inline double reduceValues(Op op, mrdDataType_t t, const double* vals, int nranks) {
  double acc = vals[0];
  switch (op) {
    case Op::kSum:
    case Op::kAvg:
      for (int r = 1; r < nranks; ++r) acc += vals[r];
      if (op == Op::kAvg) {
        if (isFloatType(t)) return acc / nranks;
        return static_cast<double>(static_cast<int64_t>(acc) / nranks);
      }
      return acc;
    case Op::kProd:
      for (int r = 1; r < nranks; ++r) acc *= vals[r];
      return acc;
    case Op::kMax:
      for (int r = 1; r < nranks; ++r) acc = std::max(acc, vals[r]);
      return acc;
    case Op::kMin:
      for (int r = 1; r < nranks; ++r) acc = std::min(acc, vals[r]);
      return acc;
    case Op::kPreMulSum: {
      const double s = preMulScalar(t);
      acc = vals[0] * s;
      for (int r = 1; r < nranks; ++r) acc += vals[r] * s;
      return acc;
    }
  }
  return acc;
}

// A buffer of count elements holding rank's reduction inputs.
inline Buffer makeReductionInput(Op op, mrdDataType_t t, int nranks, int rank, size_t count) {
  Buffer b(count * typeSize(t));
  for (size_t i = 0; i < count; ++i) {
    storeElem(t, b.data(), i, reductionInput(op, t, nranks, rank, i));
  }
  return b;
}

// Bytes [offset, offset + nbytes) of the pseudo-random byte stream
// identified by (seed, rank); never kSentinel. Any range of the stream can
// be made on its own, so a rank can build just the parts of its peers'
// inputs that it expects to receive.
inline Buffer makeBytesAt(size_t nbytes, uint64_t seed, int rank, size_t offset) {
  Buffer b(nbytes);
  const uint64_t base = mix64(seed * 0x100000001B3ull + static_cast<uint64_t>(rank));
  size_t chunk = SIZE_MAX;
  uint64_t x = 0;
  for (size_t j = 0; j < nbytes; ++j) {
    const size_t pos = offset + j;
    if ((pos >> 3) != chunk) {
      chunk = pos >> 3;
      x = mix64(base ^ chunk);
    }
    const unsigned char c = static_cast<unsigned char>(x >> (8 * (pos & 7)));
    b[j] = c == kSentinel ? static_cast<unsigned char>(0x5A) : c;
  }
  return b;
}

// The first nbytes of the stream of (seed, rank).
inline Buffer makeBytes(size_t nbytes, uint64_t seed, int rank) {
  return makeBytesAt(nbytes, seed, rank, 0);
}

inline Buffer sentinelBuffer(size_t nbytes) { return Buffer(nbytes, kSentinel); }

// ---- Reference collectives: inputs of every rank in, outputs out ----
// Counts are in elements with the public API's meaning.

// Elementwise reduction over all ranks of elements [first, first + count).
inline Buffer refReduceRange(Op op, mrdDataType_t t, const std::vector<Buffer>& in, size_t first,
                             size_t count) {
  const int n = static_cast<int>(in.size());
  Buffer out(count * typeSize(t));
  std::vector<double> vals(static_cast<size_t>(n));
  for (size_t i = 0; i < count; ++i) {
    for (int r = 0; r < n; ++r) {
      vals[static_cast<size_t>(r)] = loadElem(t, in[static_cast<size_t>(r)].data(), first + i);
    }
    storeElem(t, out.data(), i, reduceValues(op, t, vals.data(), n));
  }
  return out;
}

// AllReduce: every rank gets the reduction (one copy returned: all equal).
inline Buffer refAllReduce(Op op, mrdDataType_t t, const std::vector<Buffer>& in, size_t count) {
  return refReduceRange(op, t, in, 0, count);
}

// Reduce: the root's recvbuff (other ranks get nothing).
inline Buffer refReduce(Op op, mrdDataType_t t, const std::vector<Buffer>& in, size_t count) {
  return refReduceRange(op, t, in, 0, count);
}

// ReduceScatter: rank r gets block r of the reduction of n*recvcount elements.
inline std::vector<Buffer> refReduceScatter(Op op, mrdDataType_t t, const std::vector<Buffer>& in,
                                            size_t recvcount) {
  std::vector<Buffer> out;
  for (size_t r = 0; r < in.size(); ++r) {
    out.push_back(refReduceRange(op, t, in, r * recvcount, recvcount));
  }
  return out;
}

// Broadcast: every rank gets the root's count elements.
inline Buffer refBroadcast(mrdDataType_t t, const std::vector<Buffer>& in, size_t count, int root) {
  const Buffer& src = in[static_cast<size_t>(root)];
  return Buffer(src.begin(), src.begin() + static_cast<ptrdiff_t>(count * typeSize(t)));
}

// AllGather (and Gather at the root): rank blocks in rank order.
inline Buffer refAllGather(mrdDataType_t t, const std::vector<Buffer>& in, size_t count) {
  const size_t bytes = count * typeSize(t);
  Buffer out;
  out.reserve(bytes * in.size());
  for (const Buffer& b : in) out.insert(out.end(), b.begin(), b.begin() + bytes);
  return out;
}

inline Buffer refGather(mrdDataType_t t, const std::vector<Buffer>& in, size_t count) {
  return refAllGather(t, in, count);
}

// Scatter: rank r gets block r of the root's n*count elements.
inline std::vector<Buffer> refScatter(mrdDataType_t t, const Buffer& rootIn, int nranks,
                                      size_t count) {
  const size_t bytes = count * typeSize(t);
  std::vector<Buffer> out;
  for (int r = 0; r < nranks; ++r) {
    auto first = rootIn.begin() + static_cast<ptrdiff_t>(static_cast<size_t>(r) * bytes);
    out.emplace_back(first, first + static_cast<ptrdiff_t>(bytes));
  }
  return out;
}

// AlltoAll: block j of rank r's output is block r of rank j's input.
inline std::vector<Buffer> refAlltoAll(mrdDataType_t t, const std::vector<Buffer>& in,
                                       size_t count) {
  const size_t bytes = count * typeSize(t);
  const size_t n = in.size();
  std::vector<Buffer> out(n, Buffer(n * bytes));
  for (size_t r = 0; r < n; ++r) {
    for (size_t j = 0; j < n; ++j) {
      if (bytes > 0) std::memcpy(out[r].data() + j * bytes, in[j].data() + r * bytes, bytes);
    }
  }
  return out;
}

// AlltoAllv layout: counts[s][d] elements go from rank s to rank d, read at
// sdispls[s][d] in s's buffer and written at rdispls[d][s] in d's buffer.
struct AlltoAllvLayout {
  std::vector<std::vector<size_t>> counts, sdispls, rdispls;
  std::vector<size_t> sendElems, recvElems;  // buffer sizes per rank
};

// Uneven counts derived from base (0 when base == 0): some peers get none,
// blocks are separated by a one-element gap (which must stay untouched),
// and receive blocks are laid out in reverse peer order.
inline AlltoAllvLayout makeAlltoAllvLayout(int nranks, size_t base) {
  const size_t n = static_cast<size_t>(nranks);
  AlltoAllvLayout l;
  l.counts.assign(n, std::vector<size_t>(n, 0));
  l.sdispls = l.counts;
  l.rdispls = l.counts;
  for (size_t s = 0; s < n; ++s) {
    for (size_t d = 0; d < n; ++d) {
      if (base == 0 || (s + 2 * d + 1) % 3 == 0) continue;
      l.counts[s][d] = base + (s * 7 + d * 3) % 5;
    }
  }
  l.sendElems.assign(n, 0);
  l.recvElems.assign(n, 0);
  for (size_t s = 0; s < n; ++s) {
    size_t off = 0;
    for (size_t d = 0; d < n; ++d) {
      l.sdispls[s][d] = off;
      off += l.counts[s][d] + 1;
    }
    l.sendElems[s] = off;
  }
  for (size_t d = 0; d < n; ++d) {
    size_t off = 0;
    for (size_t k = 0; k < n; ++k) {
      const size_t s = n - 1 - k;
      l.rdispls[d][s] = off;
      off += l.counts[s][d] + 1;
    }
    l.recvElems[d] = off;
  }
  return l;
}

// Receive buffers after AlltoAllv (gaps keep kSentinel).
inline std::vector<Buffer> refAlltoAllv(mrdDataType_t t, const std::vector<Buffer>& in,
                                        const AlltoAllvLayout& l) {
  const size_t ts = typeSize(t);
  const size_t n = in.size();
  std::vector<Buffer> out;
  for (size_t d = 0; d < n; ++d) out.push_back(sentinelBuffer(l.recvElems[d] * ts));
  for (size_t s = 0; s < n; ++s) {
    for (size_t d = 0; d < n; ++d) {
      std::memcpy(out[d].data() + l.rdispls[d][s] * ts, in[s].data() + l.sdispls[s][d] * ts,
                  l.counts[s][d] * ts);
    }
  }
  return out;
}

// Ring exchange: rank r receives rank (r - 1 + n) % n's count elements.
inline std::vector<Buffer> refRingSendRecv(mrdDataType_t t, const std::vector<Buffer>& in,
                                           size_t count) {
  const size_t n = in.size();
  const size_t bytes = count * typeSize(t);
  std::vector<Buffer> out;
  for (size_t r = 0; r < n; ++r) {
    const Buffer& src = in[(r + n - 1) % n];
    out.emplace_back(src.begin(), src.begin() + static_cast<ptrdiff_t>(bytes));
  }
  return out;
}

// ---- Comparison ----

// Formats element i of buf for a mismatch message: the number and its bytes.
inline std::string describeElem(mrdDataType_t t, const void* buf, size_t i) {
  const size_t ts = typeSize(t);
  const unsigned char* p = static_cast<const unsigned char*>(buf) + i * ts;
  char num[32];
  std::snprintf(num, sizeof num, "%.9g", loadElem(t, buf, i));
  std::string s = std::string(num) + " [0x";
  static const char kHex[] = "0123456789abcdef";
  for (size_t k = ts; k-- > 0;) {
    s += kHex[p[k] >> 4];
    s += kHex[p[k] & 15];
  }
  return s + "]";
}

// Compares got with expected element by element: bit for bit, or by value
// when byValue (reductions: +0 and -0 are equal, NaN never is). Writes the
// first maxReport mismatches to *report and returns the mismatch count.
inline size_t compareElems(mrdDataType_t t, const void* expected, const void* got, size_t count,
                           bool byValue, std::string* report, size_t maxReport = 8) {
  const size_t ts = typeSize(t);
  const unsigned char* e = static_cast<const unsigned char*>(expected);
  const unsigned char* g = static_cast<const unsigned char*>(got);
  size_t bad = 0;
  for (size_t i = 0; i < count; ++i) {
    bool same;
    if (byValue) {
      same = loadElem(t, e, i) == loadElem(t, g, i);
    } else {
      same = std::memcmp(e + i * ts, g + i * ts, ts) == 0;
    }
    if (same) continue;
    if (bad < maxReport && report != nullptr) {
      *report += "  index " + std::to_string(i) + ": expected " + describeElem(t, e, i) + ", got " +
                 describeElem(t, g, i) + "\n";
    }
    ++bad;
  }
  return bad;
}

}  // namespace mrdtest
