// The reduction kernels against a plain scalar reference, element by element and bit for bit,
// for every datatype and op; and the narrow float conversions against an independent
// implementation built from the format definitions (exhaustively where a format is small
// enough), since the kernels' narrow-type results are only as good as those conversions.
// The kernel checks run at every SIMD level the CPU supports (reduce_simd_test.cc compares the
// levels with each other byte for byte).
#include "core/reduce.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/datatype.h"
#include "core/reduce_dispatch.h"
#include "meridian/meridian.h"

namespace mrd {
namespace {

constexpr mrdDataType_t kAllTypes[] = {mrdInt8,    mrdUint8,    mrdInt32,      mrdUint32,
                                       mrdInt64,   mrdUint64,   mrdFloat16,    mrdFloat32,
                                       mrdFloat64, mrdBfloat16, mrdFloat8e4m3, mrdFloat8e5m2};
constexpr RedKind kAllKinds[] = {RedKind::kSum, RedKind::kProd, RedKind::kMax, RedKind::kMin};

const char* kindName(RedKind k) {
  switch (k) {
    case RedKind::kSum: return "sum";
    case RedKind::kProd: return "prod";
    case RedKind::kMax: return "max";
    case RedKind::kMin: return "min";
  }
  return "?";
}

bool isFloatType(mrdDataType_t t) {
  return t == mrdFloat16 || t == mrdFloat32 || t == mrdFloat64 || t == mrdBfloat16 ||
         t == mrdFloat8e4m3 || t == mrdFloat8e5m2;
}

bool isNarrow(mrdDataType_t t) {
  return t == mrdFloat16 || t == mrdBfloat16 || t == mrdFloat8e4m3 || t == mrdFloat8e5m2;
}

// ---- Elements as bit patterns ----
//
// The reference code handles every element as its bit pattern, zero-extended into a uint64, so
// comparisons are exact and failure messages can print the bits.

uint64_t bitMask(mrdDataType_t t) {
  const size_t bits = dataTypeSize(t) * 8;
  return bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
}

uint64_t loadBits(mrdDataType_t t, const uint8_t* p) {
  uint64_t v = 0;
  std::memcpy(&v, p, dataTypeSize(t));  // little endian: the low bytes
  return v;
}

void storeBits(mrdDataType_t t, uint8_t* p, uint64_t v) { std::memcpy(p, &v, dataTypeSize(t)); }

template <typename T>
T fromBits(uint64_t v) {
  T x;
  std::memcpy(&x, &v, sizeof x);
  return x;
}

template <typename T>
uint64_t toBits(T x) {
  uint64_t v = 0;
  std::memcpy(&v, &x, sizeof x);
  return v;
}

float decodeNarrow(mrdDataType_t t, uint64_t v) {
  switch (t) {
    case mrdFloat16: return halfToFloat(static_cast<unsigned short>(v));
    case mrdBfloat16: return bf16ToFloat(static_cast<unsigned short>(v));
    case mrdFloat8e4m3: return fp8e4m3ToFloat(static_cast<unsigned char>(v));
    case mrdFloat8e5m2: return fp8e5m2ToFloat(static_cast<unsigned char>(v));
    default: ADD_FAILURE() << "not a narrow type"; return 0;
  }
}

uint64_t encodeNarrow(mrdDataType_t t, float f) {
  switch (t) {
    case mrdFloat16: return floatToHalf(f);
    case mrdBfloat16: return floatToBf16(f);
    case mrdFloat8e4m3: return floatToFp8e4m3(f);
    case mrdFloat8e5m2: return floatToFp8e5m2(f);
    default: ADD_FAILURE() << "not a narrow type"; return 0;
  }
}

bool isNanBits(mrdDataType_t t, uint64_t v) {
  if (t == mrdFloat32) return std::isnan(fromBits<float>(v));
  if (t == mrdFloat64) return std::isnan(fromBits<double>(v));
  if (isNarrow(t)) return std::isnan(decodeNarrow(t, v));
  return false;
}

// Bit equality, except that any NaN matches any NaN: which payload survives an operation on
// NaNs is not something the kernels promise.
bool sameResult(mrdDataType_t t, uint64_t got, uint64_t want) {
  if (got == want) return true;
  return isFloatType(t) && isNanBits(t, got) && isNanBits(t, want);
}

std::string hex(mrdDataType_t t, uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%0*llx", static_cast<int>(dataTypeSize(t) * 2),
                static_cast<unsigned long long>(v));
  return buf;
}

// Runs f at every SIMD level this CPU supports, then puts back the level MRD_SIMD chose.
template <typename F>
void atEverySimdLevel(F f) {
  for (simd::SimdLevel level :
       {simd::SimdLevel::kNone, simd::SimdLevel::kAvx2, simd::SimdLevel::kAvx512}) {
    if (!simd::forceSimdLevel(level)) continue;
    SCOPED_TRACE(std::string("SIMD level ") + simd::simdLevelName(level));
    f();
  }
  ASSERT_TRUE(simd::forceSimdLevel(simd::environmentSimdLevel()));
}

// ---- Random inputs ----

// Integers: uniform bits, so sums and products overflow often. Floats: a mix of arbitrary bit
// patterns (NaN, inf, subnormals, extreme exponents), values of similar magnitude (so sums
// and products round in interesting ways and cancel) and special values.
uint64_t randomElement(mrdDataType_t t, std::mt19937_64& rng) {
  const uint64_t r = rng();
  if (!isFloatType(t)) return r & bitMask(t);
  const uint64_t pick = r >> 60;  // 0..15, independent of the low bits used below
  if (pick < 6) return r & bitMask(t);
  double v;
  if (pick < 14) {
    // Roughly log-uniform magnitudes within a few binades of one, random sign.
    std::uniform_real_distribution<double> mant(1.0, 2.0);
    std::uniform_int_distribution<int> exp(-6, 6);
    v = std::ldexp(mant(rng), exp(rng)) * ((r & 1) ? -1 : 1);
  } else {
    const double specials[] = {0.0,
                               -0.0,
                               1.0,
                               -1.0,
                               std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(),
                               std::numeric_limits<double>::quiet_NaN(),
                               65504.0,
                               448.0,
                               57344.0,
                               1e-30,
                               std::numeric_limits<float>::max(),
                               std::numeric_limits<float>::denorm_min()};
    v = specials[(r >> 8) % (sizeof specials / sizeof specials[0])];
  }
  if (t == mrdFloat64) return toBits(v);
  if (t == mrdFloat32) return toBits(static_cast<float>(v));
  return encodeNarrow(t, static_cast<float>(v));
}

std::vector<uint8_t> randomBuffer(mrdDataType_t t, size_t count, std::mt19937_64& rng) {
  std::vector<uint8_t> buf(count * dataTypeSize(t));
  for (size_t i = 0; i < count; ++i) storeBits(t, &buf[i * dataTypeSize(t)], randomElement(t, rng));
  return buf;
}

// ---- Scalar reference for reduceArrays ----

template <typename T>
uint64_t refInt(mrdDataType_t t, RedKind k, uint64_t ab, uint64_t bb) {
  const T a = fromBits<T>(ab);
  const T b = fromBits<T>(bb);
  // Sum and product modulo 2^bits, done in uint64 where wrapping is defined. Converting a
  // negative value to uint64 is modular too, so the low bits are the two's complement result.
  const uint64_t ua = static_cast<uint64_t>(a);
  const uint64_t ub = static_cast<uint64_t>(b);
  switch (k) {
    case RedKind::kSum: return (ua + ub) & bitMask(t);
    case RedKind::kProd: return (ua * ub) & bitMask(t);
    case RedKind::kMax: return toBits(std::max(a, b));
    case RedKind::kMin: return toBits(std::min(a, b));
  }
  return 0;
}

template <typename T>
T refFloatOp(RedKind k, T a, T b) {
  switch (k) {
    case RedKind::kSum: return a + b;
    case RedKind::kProd: return a * b;
    case RedKind::kMax: return a > b ? a : b;
    case RedKind::kMin: return a < b ? a : b;
  }
  return 0;
}

uint64_t refCombine(mrdDataType_t t, RedKind k, uint64_t a, uint64_t b) {
  switch (t) {
    case mrdInt8: return refInt<int8_t>(t, k, a, b);
    case mrdUint8: return refInt<uint8_t>(t, k, a, b);
    case mrdInt32: return refInt<int32_t>(t, k, a, b);
    case mrdUint32: return refInt<uint32_t>(t, k, a, b);
    case mrdInt64: return refInt<int64_t>(t, k, a, b);
    case mrdUint64: return refInt<uint64_t>(t, k, a, b);
    case mrdFloat32: return toBits(refFloatOp(k, fromBits<float>(a), fromBits<float>(b)));
    case mrdFloat64: return toBits(refFloatOp(k, fromBits<double>(a), fromBits<double>(b)));
    default:
      // Narrow types: compute in float from the decoded inputs, round once.
      return encodeNarrow(t, refFloatOp(k, decodeNarrow(t, a), decodeNarrow(t, b)));
  }
}

// ---- reduceArrays ----

enum class Alias { kNone, kDstIsA, kDstIsB, kAllSame };

const char* aliasName(Alias a) {
  switch (a) {
    case Alias::kNone: return "distinct";
    case Alias::kDstIsA: return "dst==a";
    case Alias::kDstIsB: return "dst==b";
    case Alias::kAllSame: return "dst==a==b";
  }
  return "?";
}

// Guard elements around the reduced range; they must come back untouched.
constexpr size_t kGuard = 4;

// Reduces count elements starting `offset` elements into each buffer (so vector loops start
// misaligned) and checks every element plus the guards on both sides.
void checkReduce(mrdDataType_t t, RedKind k, size_t count, size_t offset, Alias alias,
                 std::mt19937_64& rng) {
  SCOPED_TRACE(std::string(dataTypeName(t)) + " " + kindName(k) +
               " count=" + std::to_string(count) + " offset=" + std::to_string(offset) + " " +
               aliasName(alias));
  const size_t es = dataTypeSize(t);
  const size_t total = offset + count + kGuard;
  std::vector<uint8_t> a = randomBuffer(t, total, rng);
  std::vector<uint8_t> b = randomBuffer(t, total, rng);
  std::vector<uint8_t> d = randomBuffer(t, total, rng);
  if (alias == Alias::kAllSame) b = a;

  std::vector<uint64_t> want(count);
  for (size_t i = 0; i < count; ++i) {
    const size_t at = (offset + i) * es;
    want[i] = refCombine(t, k, loadBits(t, &a[at]), loadBits(t, &b[at]));
  }
  const std::vector<uint8_t> a0 = a;
  const std::vector<uint8_t> b0 = b;

  uint8_t* pa = a.data() + offset * es;
  uint8_t* pb = b.data() + offset * es;
  uint8_t* pd = d.data() + offset * es;
  std::vector<uint8_t>* out = &d;
  switch (alias) {
    case Alias::kNone: break;
    case Alias::kDstIsA:
      pd = pa;
      out = &a;
      break;
    case Alias::kDstIsB:
      pd = pb;
      out = &b;
      break;
    case Alias::kAllSame:
      pb = pa;
      pd = pa;
      out = &a;
      break;
  }
  const std::vector<uint8_t> out0 = *out;

  reduceArrays(pd, pa, pb, count, t, k);

  int failures = 0;
  for (size_t i = 0; i < count && failures < 5; ++i) {
    const size_t at = (offset + i) * es;
    const uint64_t got = loadBits(t, &(*out)[at]);
    if (!sameResult(t, got, want[i])) {
      ++failures;
      ADD_FAILURE() << "element " << i << ": a=" << hex(t, loadBits(t, &a0[at]))
                    << " b=" << hex(t, loadBits(t, &b0[at])) << " got " << hex(t, got) << " want "
                    << hex(t, want[i]);
    }
  }
  // Bytes outside [offset, offset + count) of the output and every byte of an input that is
  // not the output stay as they were.
  const size_t lo = offset * es;
  const size_t hi = (offset + count) * es;
  EXPECT_TRUE(std::equal(out->begin(), out->begin() + lo, out0.begin()));
  EXPECT_TRUE(std::equal(out->begin() + hi, out->end(), out0.begin() + hi));
  if (out != &a) {
    EXPECT_EQ(a, a0);
  }
  if (out != &b && alias != Alias::kAllSame) {
    EXPECT_EQ(b, b0);
  }
}

class ReduceTest : public ::testing::TestWithParam<std::tuple<mrdDataType_t, RedKind>> {
 protected:
  mrdDataType_t type() const { return std::get<0>(GetParam()); }
  RedKind kind() const { return std::get<1>(GetParam()); }
  std::mt19937_64 rng_{0x5eed0000u + static_cast<unsigned>(type()) * 16 +
                       static_cast<unsigned>(kind())};
};

TEST_P(ReduceTest, MatchesReferenceAtEveryCountAndAliasing) {
  // Around vector widths and the 512-element narrow-type block, odd sizes, and one large one.
  const size_t counts[] = {1, 2, 3, 5, 7, 15, 16, 17, 31, 33, 63, 255, 511, 512, 513, 1025, 4099};
  atEverySimdLevel([&] {
    for (Alias alias : {Alias::kNone, Alias::kDstIsA, Alias::kDstIsB, Alias::kAllSame}) {
      for (size_t count : counts) {
        for (size_t offset : {0, 1, 3}) checkReduce(type(), kind(), count, offset, alias, rng_);
      }
    }
  });
}

TEST_P(ReduceTest, LargeCount) {
  atEverySimdLevel([&] {
    for (Alias alias : {Alias::kNone, Alias::kDstIsA, Alias::kDstIsB}) {
      checkReduce(type(), kind(), 100003, 1, alias, rng_);
    }
  });
}

TEST_P(ReduceTest, ZeroCountTouchesNothing) {
  reduceArrays(nullptr, nullptr, nullptr, 0, type(), kind());
  checkReduce(type(), kind(), 0, 2, Alias::kNone, rng_);
}

std::string typeKindName(const ::testing::TestParamInfo<std::tuple<mrdDataType_t, RedKind>>& p) {
  return std::string(dataTypeName(std::get<0>(p.param))) + "_" + kindName(std::get<1>(p.param));
}

INSTANTIATE_TEST_SUITE_P(AllTypesAndKinds, ReduceTest,
                         ::testing::Combine(::testing::ValuesIn(kAllTypes),
                                            ::testing::ValuesIn(kAllKinds)),
                         typeKindName);

TEST(ReduceKnownValues, IntegersWrapAndCompareWithSign) {
  int8_t a8[] = {127, -128, -1, 100};
  int8_t b8[] = {1, -1, -128, 100};
  int8_t d8[4];
  reduceArrays(d8, a8, b8, 4, mrdInt8, RedKind::kSum);
  EXPECT_EQ(d8[0], -128);
  EXPECT_EQ(d8[1], 127);
  EXPECT_EQ(d8[2], 127);
  EXPECT_EQ(d8[3], -56);
  reduceArrays(d8, a8, b8, 4, mrdInt8, RedKind::kMin);
  EXPECT_EQ(d8[0], 1);
  EXPECT_EQ(d8[1], -128);
  EXPECT_EQ(d8[2], -128);

  int64_t a64[] = {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()};
  int64_t b64[] = {2, -1};
  int64_t d64[2];
  reduceArrays(d64, a64, b64, 2, mrdInt64, RedKind::kProd);
  EXPECT_EQ(d64[0], -2);
  EXPECT_EQ(d64[1], std::numeric_limits<int64_t>::min());

  uint32_t au[] = {0xffffffffu, 3};
  uint32_t bu[] = {2, 0x80000000u};
  uint32_t du[2];
  reduceArrays(du, au, bu, 2, mrdUint32, RedKind::kSum);
  EXPECT_EQ(du[0], 1u);
  reduceArrays(du, au, bu, 2, mrdUint32, RedKind::kMax);
  EXPECT_EQ(du[0], 0xffffffffu);
  EXPECT_EQ(du[1], 0x80000000u);
}

TEST(ReduceKnownValues, NarrowSumRoundsOnceToNearestEven) {
  // 2048 + 1 is a tie in half (ulp 2 there) and goes to the even 2048; 2050 + 1 goes to 2052.
  uint16_t a[] = {floatToHalf(2048), floatToHalf(2050), floatToHalf(65504)};
  uint16_t b[] = {floatToHalf(1), floatToHalf(1), floatToHalf(32)};
  uint16_t d[3];
  reduceArrays(d, a, b, 3, mrdFloat16, RedKind::kSum);
  EXPECT_EQ(halfToFloat(d[0]), 2048.0f);
  EXPECT_EQ(halfToFloat(d[1]), 2052.0f);
  EXPECT_EQ(d[2], 0x7c00);  // 65536 overflows to inf

  // E4M3 saturates instead of overflowing.
  uint8_t e[] = {floatToFp8e4m3(448), floatToFp8e4m3(-448)};
  uint8_t f[] = {floatToFp8e4m3(448), floatToFp8e4m3(-2)};
  uint8_t g[2];
  reduceArrays(g, e, f, 2, mrdFloat8e4m3, RedKind::kSum);
  EXPECT_EQ(g[0], 0x7e);
  EXPECT_EQ(g[1], 0xfe);
}

TEST(ReduceKnownValues, InvalidTypeWritesNothing) {
  uint8_t a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint8_t d[8] = {};
  reduceArrays(d, a, a, 8, static_cast<mrdDataType_t>(mrdNumTypes), RedKind::kSum);
  scaleInto(d, a, 8, static_cast<mrdDataType_t>(-1), 2.0);
  divideInPlace(d, 8, static_cast<mrdDataType_t>(99), 2);
  for (uint8_t v : d) EXPECT_EQ(v, 0);
}

// ---- Conversions: an independent reference from the format definitions ----

struct FormatSpec {
  mrdDataType_t type;
  int bits;
  int expBits;
  int manBits;
  int bias;
  bool ieee;  // infinities and NaNs as in IEEE 754; false: OCP E4M3 (only S.1111.111 is NaN)
};

// So gtest names the format in failure messages instead of dumping bytes.
void PrintTo(const FormatSpec& f, std::ostream* os) { *os << dataTypeName(f.type); }

constexpr FormatSpec kHalf{mrdFloat16, 16, 5, 10, 15, true};
constexpr FormatSpec kBf16{mrdBfloat16, 16, 8, 7, 127, true};
constexpr FormatSpec kE4m3{mrdFloat8e4m3, 8, 4, 3, 7, false};
constexpr FormatSpec kE5m2{mrdFloat8e5m2, 8, 5, 2, 15, true};
constexpr FormatSpec kAllFormats[] = {kHalf, kBf16, kE4m3, kE5m2};

double refDecode(const FormatSpec& f, uint32_t v) {
  const uint32_t sign = (v >> (f.bits - 1)) & 1u;
  const uint32_t e = (v >> f.manBits) & ((1u << f.expBits) - 1);
  const uint32_t m = v & ((1u << f.manBits) - 1);
  const uint32_t eMax = (1u << f.expBits) - 1;
  const uint32_t mMax = (1u << f.manBits) - 1;
  if (f.ieee && e == eMax) {
    if (m != 0) return std::numeric_limits<double>::quiet_NaN();
    return sign ? -HUGE_VAL : HUGE_VAL;
  }
  if (!f.ieee && e == eMax && m == mMax) return std::numeric_limits<double>::quiet_NaN();
  // Subnormals have exponent 1 - bias and no implicit leading one.
  const int exp = (e == 0 ? 1 : static_cast<int>(e)) - f.bias - f.manBits;
  const double mag = std::ldexp(e == 0 ? m : (1u << f.manBits) + m, exp);
  return sign ? -mag : mag;
}

// The non-negative finite values of a format in increasing order with their codes; the
// codes of a sign-magnitude format increase along with the values.
struct ValueTable {
  std::vector<double> values;
  std::vector<uint32_t> codes;
  uint32_t infCode = 0;   // IEEE-like formats only
  double overflowAt = 0;  // IEEE-like: magnitudes from here round to infinity
};

ValueTable buildTable(const FormatSpec& f) {
  ValueTable t;
  for (uint32_t c = 0; c < (1u << (f.bits - 1)); ++c) {
    const double v = refDecode(f, c);
    if (std::isfinite(v)) {
      t.values.push_back(v);
      t.codes.push_back(c);
    }
  }
  if (f.ieee) {
    t.infCode = ((1u << f.expBits) - 1) << f.manBits;
    // Halfway between the largest finite value and the next power of two (the value the
    // infinity code would have if the exponent range went on). The largest finite value has an
    // odd mantissa, so that tie goes to infinity too.
    const double maxFinite = t.values.back();
    const double pow2 = std::ldexp(1.0, static_cast<int>(std::ilogb(maxFinite)) + 1);
    t.overflowAt = (maxFinite + pow2) / 2;
  }
  return t;
}

// Round to nearest, ties to even, from first principles: find the neighbours in the table and
// compare with their midpoint (exact in double).
uint32_t refEncode(const FormatSpec& f, const ValueTable& t, float x) {
  const uint32_t signBit = 1u << (f.bits - 1);
  const uint32_t sign = std::signbit(x) ? signBit : 0;
  const double a = std::fabs(static_cast<double>(x));
  const double maxFinite = t.values.back();
  if (a > maxFinite) {
    if (!f.ieee) return sign | t.codes.back();  // E4M3 saturates, infinity included
    return sign | (a >= t.overflowAt ? t.infCode : t.codes.back());
  }
  const size_t hi = std::lower_bound(t.values.begin(), t.values.end(), a) - t.values.begin();
  if (t.values[hi] == a) return sign | t.codes[hi];
  const size_t lo = hi - 1;  // a > 0 here, and values[0] is 0
  const double mid = (t.values[lo] + t.values[hi]) / 2;
  if (a < mid) return sign | t.codes[lo];
  if (a > mid) return sign | t.codes[hi];
  return sign | ((t.codes[lo] & 1u) == 0 ? t.codes[lo] : t.codes[hi]);
}

class FormatTest : public ::testing::TestWithParam<FormatSpec> {
 protected:
  const FormatSpec& spec() const { return GetParam(); }
  float decode(uint32_t v) const { return decodeNarrow(spec().type, v); }
  uint32_t encode(float f) const { return static_cast<uint32_t>(encodeNarrow(spec().type, f)); }
  bool isNanCode(uint32_t v) const { return std::isnan(refDecode(spec(), v)); }

  // Compares encode(x) with the reference; NaN inputs must give some NaN code.
  void checkEncode(float x, const ValueTable& t, int* failures) const {
    const uint32_t got = encode(x);
    if (std::isnan(x)) {
      if (!isNanCode(got) && ++*failures <= 5) ADD_FAILURE() << "NaN encodes to non-NaN " << got;
      return;
    }
    const uint32_t want = refEncode(spec(), t, x);
    if (got != want && ++*failures <= 5) {
      ADD_FAILURE() << "encode(" << x << " = 0x" << std::hex << toBits(x) << ") got 0x" << got
                    << " want 0x" << want << std::dec;
    }
  }
};

TEST_P(FormatTest, DecodeMatchesDefinitionForEveryPattern) {
  int failures = 0;
  for (uint32_t v = 0; v < (1u << spec().bits); ++v) {
    const double want = refDecode(spec(), v);
    const float got = decode(v);
    const bool ok = std::isnan(want) ? std::isnan(got)
                                     : static_cast<double>(got) == want &&
                                           std::signbit(got) == std::signbit(want);
    if (!ok && ++failures <= 5) {
      ADD_FAILURE() << "pattern 0x" << std::hex << v << std::dec << " got " << got << " want "
                    << want;
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST_P(FormatTest, EveryPatternRoundTrips) {
  int failures = 0;
  for (uint32_t v = 0; v < (1u << spec().bits); ++v) {
    const float f = decode(v);
    const uint32_t back = encode(f);
    const bool ok = std::isnan(f) ? isNanCode(back) : back == v;
    if (!ok && ++failures <= 5) {
      ADD_FAILURE() << "pattern 0x" << std::hex << v << " -> " << f << " -> 0x" << back;
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST_P(FormatTest, EncodeRoundsToNearestEvenAtTiesAndNeighbours) {
  const ValueTable t = buildTable(spec());
  int failures = 0;
  auto around = [&](float x) {
    for (float y : {x, std::nextafter(x, -INFINITY), std::nextafter(x, INFINITY)}) {
      checkEncode(y, t, &failures);
      checkEncode(-y, t, &failures);
    }
  };
  for (size_t i = 0; i < t.values.size(); ++i) {
    around(static_cast<float>(t.values[i]));
    if (i + 1 < t.values.size()) {
      // Midpoints have one more significant bit than the format: exact in float.
      const double mid = (t.values[i] + t.values[i + 1]) / 2;
      ASSERT_EQ(static_cast<double>(static_cast<float>(mid)), mid);
      around(static_cast<float>(mid));
    }
  }
  if (spec().ieee) around(static_cast<float>(t.overflowAt));
  for (float x : {0.0f, std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity(),
                  std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::min(),
                  std::numeric_limits<float>::denorm_min()}) {
    around(x);
  }
  EXPECT_EQ(failures, 0);
}

TEST_P(FormatTest, EncodeMatchesReferenceOnRandomFloats) {
  const ValueTable t = buildTable(spec());
  std::mt19937_64 rng(0xf10a7u + static_cast<unsigned>(spec().type));
  int failures = 0;
  const int maxExp = (1 << (spec().expBits - 1));
  // Exponents across the format's range and a little beyond.
  std::uniform_int_distribution<int> exp(-spec().bias - spec().manBits - 3, maxExp + 2);
  for (int i = 0; i < 200000; ++i) {
    const uint64_t r = rng();
    // Any float bit pattern, and floats with exponents where this format lives.
    checkEncode(fromBits<float>(r & 0xffffffffu), t, &failures);
    const uint32_t m = static_cast<uint32_t>(r >> 32) & 0x7fffffu;
    const float x = std::ldexp(1.0f + static_cast<float>(m) * 0x1p-23f, exp(rng));
    checkEncode((r >> 63) ? -x : x, t, &failures);
  }
  EXPECT_EQ(failures, 0);
}

std::string formatName(const ::testing::TestParamInfo<FormatSpec>& p) {
  return dataTypeName(p.param.type);
}

INSTANTIATE_TEST_SUITE_P(NarrowFormats, FormatTest, ::testing::ValuesIn(kAllFormats), formatName);

// Hand-checked values, readable without the reference.
TEST(FormatKnownValues, Half) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f), 0x3c00);      // tie, down to even
  EXPECT_EQ(floatToHalf(1.0f + 3 * 0x1p-11f), 0x3c02);  // tie, up to even
  EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
  EXPECT_EQ(floatToHalf(0x1p-24f), 0x0001);  // smallest subnormal
  EXPECT_EQ(floatToHalf(0x1p-25f), 0x0000);  // tie with zero
  EXPECT_EQ(floatToHalf(3 * 0x1p-25f), 0x0002);
  EXPECT_EQ(floatToHalf(0x1p-14f - 0x1p-25f), 0x0400);  // rounds up into the normals
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65519.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00);  // tie, to infinity
  EXPECT_EQ(floatToHalf(-1e10f), 0xfc00);
  EXPECT_EQ(floatToHalf(INFINITY), 0x7c00);
  EXPECT_EQ(floatToHalf(NAN) & 0x7c00, 0x7c00);
  EXPECT_NE(floatToHalf(NAN) & 0x03ff, 0);
  EXPECT_EQ(halfToFloat(0x0001), 0x1p-24f);
  EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(halfToFloat(0xfc00), -INFINITY);
}

TEST(FormatKnownValues, Bfloat16) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBf16(1.0f + 0x1p-8f), 0x3f80);                     // tie, down to even
  EXPECT_EQ(floatToBf16(1.0f + 3 * 0x1p-8f), 0x3f82);                 // tie, up to even
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds to infinity
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::denorm_min()), 0x0000);
  // A NaN whose payload is only in the dropped bits must stay a NaN, not become infinity.
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(fromBits<float>(0x7f800001u)))));
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(fromBits<float>(0xff800001u)))));
  EXPECT_EQ(bf16ToFloat(0xc0a0), -5.0f);
}

TEST(FormatKnownValues, Fp8E4m3) {
  EXPECT_EQ(floatToFp8e4m3(1.0f), 0x38);
  EXPECT_EQ(floatToFp8e4m3(1.0f + 1.0f / 16), 0x38);  // tie, down to even
  EXPECT_EQ(floatToFp8e4m3(1.0f + 3.0f / 16), 0x3a);  // tie, up to even
  EXPECT_EQ(floatToFp8e4m3(0x1p-9f), 0x01);           // smallest subnormal
  EXPECT_EQ(floatToFp8e4m3(0x1p-10f), 0x00);          // tie with zero
  EXPECT_EQ(floatToFp8e4m3(3 * 0x1p-10f), 0x02);
  EXPECT_EQ(floatToFp8e4m3(448.0f), 0x7e);
  EXPECT_EQ(floatToFp8e4m3(464.0f), 0x7e);  // saturates, never NaN
  EXPECT_EQ(floatToFp8e4m3(480.0f), 0x7e);
  EXPECT_EQ(floatToFp8e4m3(1e30f), 0x7e);
  EXPECT_EQ(floatToFp8e4m3(INFINITY), 0x7e);
  EXPECT_EQ(floatToFp8e4m3(-INFINITY), 0xfe);
  EXPECT_EQ(floatToFp8e4m3(NAN) & 0x7f, 0x7f);
  EXPECT_EQ(fp8e4m3ToFloat(0x7e), 448.0f);
  EXPECT_EQ(fp8e4m3ToFloat(0x78), 256.0f);  // S.1111.000 is a number in E4M3, not infinity
  EXPECT_TRUE(std::isnan(fp8e4m3ToFloat(0xff)));
  EXPECT_EQ(fp8e4m3ToFloat(0x01), 0x1p-9f);
}

TEST(FormatKnownValues, Fp8E5m2) {
  EXPECT_EQ(floatToFp8e5m2(1.0f), 0x3c);
  EXPECT_EQ(floatToFp8e5m2(1.0f + 1.0f / 8), 0x3c);  // tie, down to even
  EXPECT_EQ(floatToFp8e5m2(1.0f + 3.0f / 8), 0x3e);  // tie, up to even
  EXPECT_EQ(floatToFp8e5m2(0x1p-16f), 0x01);
  EXPECT_EQ(floatToFp8e5m2(0x1p-17f), 0x00);
  EXPECT_EQ(floatToFp8e5m2(3 * 0x1p-17f), 0x02);
  EXPECT_EQ(floatToFp8e5m2(57344.0f), 0x7b);
  EXPECT_EQ(floatToFp8e5m2(61439.0f), 0x7b);
  EXPECT_EQ(floatToFp8e5m2(61440.0f), 0x7c);  // tie, to infinity
  EXPECT_EQ(floatToFp8e5m2(-INFINITY), 0xfc);
  // Rounded once from float, not via half: 1 + 1/8 + 2^-12 is just above the E5M2 tie,
  // while rounding it to half first would land exactly on the tie and go down.
  EXPECT_EQ(floatToFp8e5m2(1.0f + 1.0f / 8 + 0x1p-12f), 0x3d);
  EXPECT_TRUE(std::isnan(fp8e5m2ToFloat(floatToFp8e5m2(NAN))));
  EXPECT_EQ(fp8e5m2ToFloat(0x7b), 57344.0f);
  EXPECT_EQ(fp8e5m2ToFloat(0x7c), INFINITY);
}

// ---- scaleInto ----

// Reference integer scaling, from reduce.h's contract: an integral factor multiplies in the
// type's wrapping arithmetic; any other truncates the double product toward zero and
// saturates (NaN gives 0).
template <typename T>
uint64_t refScaleInt(mrdDataType_t t, uint64_t xb, double factor) {
  const T x = fromBits<T>(xb);
  if (std::trunc(factor) == factor && std::fabs(factor) < 0x1p63) {
    const uint64_t k = static_cast<uint64_t>(static_cast<int64_t>(factor));
    return (static_cast<uint64_t>(x) * k) & bitMask(t);
  }
  const double p = std::trunc(static_cast<double>(x) * factor);
  if (std::isnan(p)) return 0;
  if (p <= static_cast<double>(std::numeric_limits<T>::min())) {
    return toBits(std::numeric_limits<T>::min());
  }
  // max() rounds up to 2^bits (or 2^(bits-1)) in double for 64-bit types; >= catches it.
  if (p >= static_cast<double>(std::numeric_limits<T>::max())) {
    return toBits(std::numeric_limits<T>::max());
  }
  return toBits(static_cast<T>(p));
}

uint64_t refScale(mrdDataType_t t, uint64_t x, double factor) {
  switch (t) {
    case mrdInt8: return refScaleInt<int8_t>(t, x, factor);
    case mrdUint8: return refScaleInt<uint8_t>(t, x, factor);
    case mrdInt32: return refScaleInt<int32_t>(t, x, factor);
    case mrdUint32: return refScaleInt<uint32_t>(t, x, factor);
    case mrdInt64: return refScaleInt<int64_t>(t, x, factor);
    case mrdUint64: return refScaleInt<uint64_t>(t, x, factor);
    case mrdFloat32: return toBits(fromBits<float>(x) * static_cast<float>(factor));
    case mrdFloat64: return toBits(fromBits<double>(x) * factor);
    default: return encodeNarrow(t, decodeNarrow(t, x) * static_cast<float>(factor));
  }
}

uint64_t refDivide(mrdDataType_t t, uint64_t x, int d) {
  switch (t) {
    case mrdInt8: return toBits(static_cast<int8_t>(fromBits<int8_t>(x) / d));
    case mrdUint8: return toBits(static_cast<uint8_t>(fromBits<uint8_t>(x) / d));
    case mrdInt32: return toBits(static_cast<int32_t>(fromBits<int32_t>(x) / d));
    case mrdUint32: return toBits(fromBits<uint32_t>(x) / static_cast<uint32_t>(d));
    case mrdInt64: return toBits(fromBits<int64_t>(x) / d);
    case mrdUint64: return toBits(fromBits<uint64_t>(x) / static_cast<uint64_t>(d));
    case mrdFloat32: return toBits(fromBits<float>(x) / static_cast<float>(d));
    case mrdFloat64: return toBits(fromBits<double>(x) / d);
    default: return encodeNarrow(t, decodeNarrow(t, x) / static_cast<float>(d));
  }
}

// Applies op (scaleInto or divideInPlace) to count elements, in place or not, and checks
// every element against ref and the guards after the range.
template <typename Op, typename Ref>
void checkUnary(mrdDataType_t t, size_t count, bool inPlace, std::mt19937_64& rng, Op op, Ref ref) {
  const size_t es = dataTypeSize(t);
  std::vector<uint8_t> src = randomBuffer(t, count + kGuard, rng);
  std::vector<uint8_t> dst = inPlace ? src : randomBuffer(t, count + kGuard, rng);
  const std::vector<uint8_t> src0 = src;
  const std::vector<uint8_t> dst0 = dst;
  op(dst.data(), inPlace ? dst.data() : src.data(), count);
  int failures = 0;
  for (size_t i = 0; i < count && failures < 5; ++i) {
    const uint64_t x = loadBits(t, &src0[i * es]);
    const uint64_t want = ref(x);
    const uint64_t got = loadBits(t, &dst[i * es]);
    if (!sameResult(t, got, want)) {
      ++failures;
      ADD_FAILURE() << "element " << i << ": x=" << hex(t, x) << " got " << hex(t, got) << " want "
                    << hex(t, want);
    }
  }
  EXPECT_TRUE(std::equal(dst.begin() + count * es, dst.end(), dst0.begin() + count * es));
  if (!inPlace) {
    EXPECT_EQ(src, src0);
  }
}

class UnaryTest : public ::testing::TestWithParam<mrdDataType_t> {
 protected:
  mrdDataType_t type() const { return GetParam(); }
  std::mt19937_64 rng_{0xca1eu + static_cast<unsigned>(GetParam())};
};

TEST_P(UnaryTest, ScaleIntoMatchesReference) {
  const mrdDataType_t t = type();
  std::vector<double> factors;
  if (isFloatType(t)) {
    factors = {1.0, -1.0, 0.5, 3.0, -2.75, 0.1, 1e-3, 100.0, 0.0};
  } else {
    factors = {1.0, 0.0, -1.0, 3.0, -7.0, 1000003.0, 2.5, -0.5, 1e30, -1e30, NAN};
  }
  atEverySimdLevel([&] {
    for (double factor : factors) {
      for (size_t count : {1, 2, 7, 17, 511, 513, 1025, 20011}) {
        for (bool inPlace : {false, true}) {
          SCOPED_TRACE(std::string(dataTypeName(t)) + " factor=" + std::to_string(factor) +
                       " count=" + std::to_string(count) + (inPlace ? " in place" : ""));
          checkUnary(
              t, count, inPlace, rng_,
              [&](void* d, const void* s, size_t n) { scaleInto(d, s, n, t, factor); },
              [&](uint64_t x) { return refScale(t, x, factor); });
        }
      }
    }
    scaleInto(nullptr, nullptr, 0, t, 2.0);
  });
}

TEST_P(UnaryTest, DivideInPlaceMatchesReference) {
  const mrdDataType_t t = type();
  atEverySimdLevel([&] {
    for (int divisor : {1, 2, 3, 7, 8, 10, 64, 1000, 4095}) {
      for (size_t count : {1, 2, 7, 17, 511, 513, 1025, 20011}) {
        SCOPED_TRACE(std::string(dataTypeName(t)) + " divisor=" + std::to_string(divisor) +
                     " count=" + std::to_string(count));
        checkUnary(
            t, count, true, rng_,
            [&](void* d, const void*, size_t n) { divideInPlace(d, n, t, divisor); },
            [&](uint64_t x) { return refDivide(t, x, divisor); });
      }
    }
    divideInPlace(nullptr, 0, t, 2);
  });
}

TEST_P(UnaryTest, DivideByLessThanOneLeavesBufferAlone) {
  std::vector<uint8_t> buf = randomBuffer(type(), 100, rng_);
  const std::vector<uint8_t> buf0 = buf;
  divideInPlace(buf.data(), 100, type(), 0);
  divideInPlace(buf.data(), 100, type(), -3);
  EXPECT_EQ(buf, buf0);
}

std::string typeName(const ::testing::TestParamInfo<mrdDataType_t>& p) {
  return dataTypeName(p.param);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, UnaryTest, ::testing::ValuesIn(kAllTypes), typeName);

TEST(ScaleKnownValues, IntegerFactors) {
  int8_t a[] = {100, -5, 127, -128};
  int8_t d[4];
  scaleInto(d, a, 4, mrdInt8, 3.0);  // integral: wraps like int8 arithmetic
  EXPECT_EQ(d[0], 44);
  EXPECT_EQ(d[1], -15);
  EXPECT_EQ(d[2], 125);
  EXPECT_EQ(d[3], -128);
  scaleInto(d, a, 4, mrdInt8, 2.5);  // fractional: toward zero, saturating
  EXPECT_EQ(d[0], 127);
  EXPECT_EQ(d[1], -12);
  EXPECT_EQ(d[3], -128);

  uint8_t u[] = {10};
  uint8_t ud[1];
  scaleInto(ud, u, 1, mrdUint8, -0.5);
  EXPECT_EQ(ud[0], 0);

  // 64-bit values beyond 2^53 stay exact with an integral factor.
  int64_t big[] = {(int64_t{1} << 62) + 1};
  int64_t bigd[1];
  scaleInto(bigd, big, 1, mrdInt64, 1.0);
  EXPECT_EQ(bigd[0], big[0]);
  scaleInto(bigd, big, 1, mrdInt64, -1.0);
  EXPECT_EQ(bigd[0], -big[0]);
  uint64_t ubig[] = {0xffffffffffffffffull};
  uint64_t ubigd[1];
  scaleInto(ubigd, ubig, 1, mrdUint64, 3.0);
  EXPECT_EQ(ubigd[0], 0xfffffffffffffffdull);
}

TEST(DivideKnownValues, SmallIntegersAreExactForEveryValue) {
  for (int d = 1; d <= 300; ++d) {
    int8_t s[256];
    uint8_t u[256];
    for (int i = 0; i < 256; ++i) {
      s[i] = static_cast<int8_t>(i - 128);
      u[i] = static_cast<uint8_t>(i);
    }
    divideInPlace(s, 256, mrdInt8, d);
    divideInPlace(u, 256, mrdUint8, d);
    for (int i = 0; i < 256; ++i) {
      ASSERT_EQ(s[i], (i - 128) / d) << "d=" << d;
      ASSERT_EQ(u[i], i / d) << "d=" << d;
    }
  }
}

// divideInPlace does 32-bit division through double; the values next to multiples of the
// divisor and at the ends of the range are where an inexact quotient would truncate wrongly.
TEST(DivideKnownValues, ThirtyTwoBitIntegersAreExactNearMultiplesAndExtremes) {
  std::mt19937_64 rng(0xd1u);
  std::vector<int> divisors = {1, 2, 3, 7, 10, 65537, 1000003, 46341, 2147483647};
  for (int i = 0; i < 40; ++i) divisors.push_back(static_cast<int>(rng() % 2147483647) + 1);
  for (int d : divisors) {
    std::vector<int32_t> s = {INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1, INT32_MAX};
    std::vector<uint32_t> u = {0, 1, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};
    for (int i = 0; i < 200; ++i) {
      const int64_t q = static_cast<int64_t>(rng() % (uint64_t{1} << 32)) / d;
      for (int64_t delta : {-1, 0, 1}) {
        const int64_t v = q * d + delta;
        if (v >= 0 && v <= UINT32_MAX) u.push_back(static_cast<uint32_t>(v));
        const int64_t w = v - (int64_t{1} << 31);
        if (w >= INT32_MIN && w <= INT32_MAX) s.push_back(static_cast<int32_t>(w));
        const int64_t sv = (static_cast<int64_t>(rng() % (uint64_t{1} << 31)) / d) * d + delta;
        if (sv <= INT32_MAX) s.push_back(static_cast<int32_t>(sv));
        if (-sv >= INT32_MIN) s.push_back(static_cast<int32_t>(-sv));
      }
    }
    std::vector<int32_t> s2 = s;
    std::vector<uint32_t> u2 = u;
    divideInPlace(s2.data(), s2.size(), mrdInt32, d);
    divideInPlace(u2.data(), u2.size(), mrdUint32, d);
    for (size_t i = 0; i < s.size(); ++i) ASSERT_EQ(s2[i], s[i] / d) << s[i] << " / " << d;
    for (size_t i = 0; i < u.size(); ++i) {
      ASSERT_EQ(u2[i], u[i] / static_cast<uint32_t>(d)) << u[i] << " / " << d;
    }
  }
}

// ---- Names ----

TEST(Names, DataTypes) {
  const char* want[] = {"int8", "uint8", "int32",  "uint32",   "int64",  "uint64",
                        "half", "float", "double", "bfloat16", "f8e4m3", "f8e5m2"};
  for (int t = 0; t < mrdNumTypes; ++t) {
    EXPECT_STREQ(dataTypeName(static_cast<mrdDataType_t>(t)), want[t]);
  }
  EXPECT_STREQ(dataTypeName(static_cast<mrdDataType_t>(mrdNumTypes)), "unknown");
  EXPECT_STREQ(dataTypeName(static_cast<mrdDataType_t>(-1)), "unknown");
}

TEST(Names, Ops) {
  EXPECT_STREQ(redOpName(mrdSum), "sum");
  EXPECT_STREQ(redOpName(mrdProd), "prod");
  EXPECT_STREQ(redOpName(mrdMax), "max");
  EXPECT_STREQ(redOpName(mrdMin), "min");
  EXPECT_STREQ(redOpName(mrdAvg), "avg");
  EXPECT_STREQ(redOpName(mrdNumOps), "premulsum");
  EXPECT_STREQ(redOpName(mrdNumOps + 17), "premulsum");
  EXPECT_STREQ(redOpName(-1), "unknown");
}

}  // namespace
}  // namespace mrd
