// The SIMD reduction kernels (core/reduce_dispatch.h) against the scalar code, byte for byte:
// every SIMD level this CPU supports, forced through forceSimdLevel, for every type and op, at
// counts around the vector widths, unaligned, aliased both ways, on special values (NaN
// payloads, signalling NaNs, infinities, -0, subnormals, integer extremes) and random bits.
// Signalling NaNs and NaN payloads must match too (but see expectSameElements for the sum of two
// NaNs). Also the float16/bfloat16 block conversions (widening exhaustively) and the dispatcher.
// reduce_test.cc checks the scalar code against a reference built from the definitions.
#include "core/reduce_dispatch.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/datatype.h"
#include "core/reduce.h"

namespace mrd::simd {

// So gtest names the level in test parameters (ADL finds it here, beside SimdLevel).
void PrintTo(SimdLevel level, std::ostream* os) { *os << simdLevelName(level); }

namespace {

constexpr SimdLevel kSimdLevels[] = {SimdLevel::kAvx2, SimdLevel::kAvx512};
constexpr RedKind kAllKinds[] = {RedKind::kSum, RedKind::kProd, RedKind::kMax, RedKind::kMin};
constexpr const char* kKindNames[] = {"sum", "prod", "max", "min"};  // in RedKind's order

std::vector<mrdDataType_t> allTypes() {
  std::vector<mrdDataType_t> types;
  for (int t = 0; t < mrdNumTypes; ++t) types.push_back(static_cast<mrdDataType_t>(t));
  return types;
}

// Runs f with `level` forced, then puts back the level MRD_SIMD chose.
template <typename F>
void atLevel(SimdLevel level, F f) {
  ASSERT_TRUE(forceSimdLevel(level));
  f();
  ASSERT_TRUE(forceSimdLevel(environmentSimdLevel()));
}

// Special values of each type, as bit patterns (the low dataTypeSize bytes).
std::vector<uint64_t> specialValues(mrdDataType_t t) {
  switch (t) {
    case mrdFloat32:
      return {0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x40400000, 0x7f800000,
              0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001, 0x7fa5a5a5, 0xffbfffff,
              0x00000001, 0x007fffff, 0x80000001, 0x00800000, 0x7f7fffff, 0xff7fffff};
    case mrdFloat64:
      return {0, 0x8000000000000000, 0x3ff0000000000000, 0xbff0000000000000,
              0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000, 0xfff8000000000123,
              0x7ff0000000000001, 0x7ff4a5a5a5a5a5a5, 0x0000000000000001, 0x000fffffffffffff,
              0x8000000000000001, 0x0010000000000000, 0x7fefffffffffffff, 0xffefffffffffffff};
    case mrdFloat16:
      return {0x0000, 0x8000, 0x3c00, 0xbc00, 0x4200, 0x7c00, 0xfc00, 0x7e00, 0xfe01,
              0x7c01, 0x7d55, 0xfdff, 0x0001, 0x03ff, 0x8001, 0x0400, 0x7bff, 0xfbff};
    case mrdBfloat16:
      return {0x0000, 0x8000, 0x3f80, 0xbf80, 0x4040, 0x7f80, 0xff80, 0x7fc0, 0xffc1,
              0x7f81, 0x7fa5, 0xffbf, 0x0001, 0x007f, 0x8001, 0x0080, 0x7f7f, 0xff7f};
    case mrdFloat8e4m3: return {0x00, 0x80, 0x38, 0xb8, 0x7f, 0xff, 0x7e, 0xfe, 0x01, 0x07, 0x08};
    case mrdFloat8e5m2: return {0x00, 0x80, 0x3c, 0xbc, 0x7c, 0xfc, 0x7e, 0x7d, 0x01, 0x03, 0x7b};
    default: {
      // Integers: 0, 1, 2, -1, the extremes of both signednesses and alternating bits.
      const size_t bits = dataTypeSize(t) * 8;
      const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
      const uint64_t top = uint64_t{1} << (bits - 1);
      return {0, 1, 2, mask, top, top - 1, top + 1, mask - 1, 0x5555555555555555 & mask,
              0xaaaaaaaaaaaaaaaa & mask, 3};
    }
  }
}

// count elements plus `offset` before them and guards after. With specials, element i of a and
// of b walk the special values so that every pair of them meets (given enough elements);
// otherwise random bits.
std::vector<uint8_t> makeBuffer(mrdDataType_t t, size_t total, bool specials, bool second,
                                std::mt19937_64& rng) {
  const size_t es = dataTypeSize(t);
  const std::vector<uint64_t> sv = specialValues(t);
  std::vector<uint8_t> buf(total * es);
  for (size_t i = 0; i < total; ++i) {
    const uint64_t v = !specials ? rng() : second ? sv[(i / sv.size()) % sv.size()]
                                                  : sv[i % sv.size()];
    std::memcpy(&buf[i * es], &v, es);  // little endian: the low bytes
  }
  return buf;
}

enum class Alias { kNone, kDstIsA, kDstIsB, kAllSame };

struct Buffers {
  std::vector<uint8_t> a, b, d;
};

// reduceArrays on count elements `offset` elements into the buffers, aliased as asked.
void runReduce(Buffers* bufs, mrdDataType_t t, RedKind k, size_t count, size_t offset,
               Alias alias) {
  const size_t at = offset * dataTypeSize(t);
  uint8_t* a = bufs->a.data() + at;
  uint8_t* b = (alias == Alias::kAllSame ? bufs->a.data() : bufs->b.data()) + at;
  uint8_t* d = alias == Alias::kNone ? bufs->d.data() + at : alias == Alias::kDstIsB ? b : a;
  reduceArrays(d, a, b, count, t, k);
}

class SimdReduceTest
    : public ::testing::TestWithParam<std::tuple<SimdLevel, mrdDataType_t, RedKind>> {
 protected:
  void SetUp() override {
    if (kernelsFor(level()) == nullptr) {
      GTEST_SKIP() << "this CPU has no " << simdLevelName(level());
    }
  }
  SimdLevel level() const { return std::get<0>(GetParam()); }
  mrdDataType_t type() const { return std::get<1>(GetParam()); }
  RedKind kind() const { return std::get<2>(GetParam()); }

  // The whole of every buffer (guards included) must come out as the scalar code leaves it.
  void check(size_t count, size_t offset, Alias alias, bool specials) {
    SCOPED_TRACE("count=" + std::to_string(count) + " offset=" + std::to_string(offset) +
                 " alias=" + std::to_string(static_cast<int>(alias)) +
                 (specials ? " special values" : " random bits"));
    const size_t total = offset + count + 5;
    Buffers scalar{makeBuffer(type(), total, specials, false, rng_),
                   makeBuffer(type(), total, specials, true, rng_),
                   makeBuffer(type(), total, false, false, rng_)};
    Buffers simd = scalar;
    const Buffers inputs = scalar;
    atLevel(SimdLevel::kNone, [&] { runReduce(&scalar, type(), kind(), count, offset, alias); });
    atLevel(level(), [&] { runReduce(&simd, type(), kind(), count, offset, alias); });
    const std::vector<uint8_t>& b = alias == Alias::kAllSame ? inputs.a : inputs.b;
    expectSameElements(simd.d, scalar.d, inputs.a, b, "d");
    expectSameElements(simd.a, scalar.a, inputs.a, b, "a");
    expectSameElements(simd.b, scalar.b, inputs.a, b, "b");
  }

  // Byte for byte, but for one thing: the sum or product of two NaNs is a NaN with the payload
  // of either. The scalar code promises no more, as GCC orders the operands of a commutative
  // add or multiply as it likes (its loops differ by count and aliasing) and x86 returns the
  // first operand's payload; the vector code is no different.
  void expectSameElements(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want,
                          const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                          const char* name) {
    const size_t es = dataTypeSize(type());
    const bool commutative = kind() == RedKind::kSum || kind() == RedKind::kProd;
    int failures = 0;
    for (size_t i = 0; i < got.size() / es && failures < 5; ++i) {
      const uint64_t g = element(got, i), w = element(want, i);
      if (g == w) continue;
      if (commutative && isNan(element(a, i)) && isNan(element(b, i)) && isNan(g) && isNan(w)) {
        continue;
      }
      ++failures;
      ADD_FAILURE() << name << "[" << i << "] got 0x" << std::hex << g << " want 0x" << w
                    << " (a 0x" << element(a, i) << ", b 0x" << element(b, i) << ")";
    }
  }

  uint64_t element(const std::vector<uint8_t>& buf, size_t i) const {
    uint64_t v = 0;
    std::memcpy(&v, &buf[i * dataTypeSize(type())], dataTypeSize(type()));
    return v;
  }

  // NaN bit patterns of the types the SIMD levels compute (fp8 stays scalar at every level).
  bool isNan(uint64_t v) const {
    switch (type()) {
      case mrdFloat16: return (v & 0x7fff) > 0x7c00;
      case mrdBfloat16: return (v & 0x7fff) > 0x7f80;
      case mrdFloat32: return (v & 0x7fffffff) > 0x7f800000;
      case mrdFloat64: return (v & 0x7fffffffffffffff) > 0x7ff0000000000000;
      default: return false;
    }
  }

  std::mt19937_64 rng_{0x51dd0000u + static_cast<unsigned>(type()) * 16 +
                       static_cast<unsigned>(kind())};
};

TEST_P(SimdReduceTest, MatchesScalarByteForByte) {
  for (Alias alias : {Alias::kNone, Alias::kDstIsA, Alias::kDstIsB, Alias::kAllSame}) {
    for (size_t count : {0, 1, 7, 15, 16, 17, 31, 33, 63, 64, 65, 1000, 4099}) {
      for (size_t offset : {0, 1, 3}) {
        for (bool specials : {true, false}) check(count, offset, alias, specials);
      }
    }
  }
}

std::string levelTypeKindName(
    const ::testing::TestParamInfo<std::tuple<SimdLevel, mrdDataType_t, RedKind>>& p) {
  return std::string(simdLevelName(std::get<0>(p.param))) + "_" +
         dataTypeName(std::get<1>(p.param)) + "_" +
         kKindNames[static_cast<int>(std::get<2>(p.param))];
}

INSTANTIATE_TEST_SUITE_P(EveryLevelTypeAndKind, SimdReduceTest,
                         ::testing::Combine(::testing::ValuesIn(kSimdLevels),
                                            ::testing::ValuesIn(allTypes()),
                                            ::testing::ValuesIn(kAllKinds)),
                         levelTypeKindName);

// ---- float16 / bfloat16 block conversions ----

class SimdConvertTest : public ::testing::TestWithParam<SimdLevel> {
 protected:
  void SetUp() override {
    kernels_ = kernelsFor(GetParam());
    if (kernels_ == nullptr) GTEST_SKIP() << "this CPU has no " << simdLevelName(GetParam());
  }
  const SimdKernels* kernels_ = nullptr;
};

uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Every 16-bit pattern, widened one block at a time (an odd count, so the tail runs too).
TEST_P(SimdConvertTest, WideningMatchesScalarForEveryPattern) {
  std::vector<uint16_t> in(65536);
  for (uint32_t v = 0; v < in.size(); ++v) in[v] = static_cast<uint16_t>(v);
  std::vector<float> half(in.size() + 1), bf16(in.size() + 1);
  kernels_->halfToFloatN(in.data() + 1, half.data() + 1, in.size() - 1);
  kernels_->bf16ToFloatN(in.data() + 1, bf16.data() + 1, in.size() - 1);
  kernels_->halfToFloatN(in.data(), half.data(), 1);
  kernels_->bf16ToFloatN(in.data(), bf16.data(), 1);
  int failures = 0;
  for (uint32_t v = 0; v < in.size() && failures < 5; ++v) {
    const uint16_t h = static_cast<uint16_t>(v);
    if (bitsOf(half[v]) != bitsOf(halfToFloat(h))) {
      ++failures;
      ADD_FAILURE() << "half 0x" << std::hex << v << " got 0x" << bitsOf(half[v]) << " want 0x"
                    << bitsOf(halfToFloat(h));
    }
    if (bitsOf(bf16[v]) != bitsOf(bf16ToFloat(h))) {
      ++failures;
      ADD_FAILURE() << "bfloat16 0x" << std::hex << v << " got 0x" << bitsOf(bf16[v]);
    }
  }
}

// Narrows `in` through the level's kernels and the scalar functions and compares.
void checkNarrowing(const SimdKernels& k, const std::vector<float>& in) {
  std::vector<uint16_t> half(in.size()), bf16(in.size());
  k.floatToHalfN(in.data(), half.data(), in.size());
  k.floatToBf16N(in.data(), bf16.data(), in.size());
  int failures = 0;
  for (size_t i = 0; i < in.size() && failures < 5; ++i) {
    if (half[i] != floatToHalf(in[i]) || bf16[i] != floatToBf16(in[i])) {
      ++failures;
      ADD_FAILURE() << "float 0x" << std::hex << bitsOf(in[i]) << ": half 0x" << half[i]
                    << " want 0x" << floatToHalf(in[i]) << ", bfloat16 0x" << bf16[i]
                    << " want 0x" << floatToBf16(in[i]);
    }
  }
}

// Every sign, exponent and top 7 mantissa bits, with low bits at and around both formats'
// rounding points (ties, just above and below, odd and even kept bits), plus random floats.
TEST_P(SimdConvertTest, NarrowingMatchesScalarAtRoundingPointsAndRandomFloats) {
  const uint32_t lows[] = {0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000,
                           0x7fff, 0x8000, 0x8001, 0xffff, 0x9000, 0xb000, 0x5a5a, 0xe001};
  std::vector<float> in;
  for (uint32_t high = 0; high < 65536; ++high) {
    for (uint32_t low : lows) {
      const uint32_t u = (high << 16) | low;
      float f;
      std::memcpy(&f, &u, sizeof f);
      in.push_back(f);
    }
  }
  in.push_back(0.0f);  // an odd count: the tail
  checkNarrowing(*kernels_, in);
  std::mt19937 rng(0x4a11);
  for (float& f : in) {
    const uint32_t u = rng();
    std::memcpy(&f, &u, sizeof f);
  }
  checkNarrowing(*kernels_, in);
}

// All 2^32 floats (about a minute); run by hand with --gtest_also_run_disabled_tests.
TEST_P(SimdConvertTest, DISABLED_NarrowingMatchesScalarForEveryFloat) {
  std::vector<float> in(1u << 20);
  for (uint64_t base = 0; base < (uint64_t{1} << 32); base += in.size()) {
    for (size_t i = 0; i < in.size(); ++i) {
      const uint32_t u = static_cast<uint32_t>(base + i);
      std::memcpy(&in[i], &u, sizeof u);
    }
    checkNarrowing(*kernels_, in);
    if (HasFailure()) return;
  }
}

// scaleInto and divideInPlace reach the conversions through the active level.
TEST_P(SimdConvertTest, ScaleAndDivideOfNarrowFloatsMatchScalar) {
  std::mt19937_64 rng(0x5ca1e);
  for (mrdDataType_t t : {mrdFloat16, mrdBfloat16}) {
    for (size_t count : {1, 17, 513, 4099}) {
      SCOPED_TRACE(std::string(dataTypeName(t)) + " count=" + std::to_string(count));
      const std::vector<uint8_t> in = makeBuffer(t, count, count % 2 == 1, false, rng);
      std::vector<uint8_t> scalar(in.size()), simd(in.size());
      auto run = [&](std::vector<uint8_t>* out) {
        scaleInto(out->data(), in.data(), count, t, -2.75);
        divideInPlace(out->data(), count, t, 3);
      };
      atLevel(SimdLevel::kNone, [&] { run(&scalar); });
      atLevel(GetParam(), [&] { run(&simd); });
      EXPECT_EQ(simd, scalar);
    }
  }
}

std::string levelName(const ::testing::TestParamInfo<SimdLevel>& p) {
  return simdLevelName(p.param);
}

INSTANTIATE_TEST_SUITE_P(EveryLevel, SimdConvertTest, ::testing::ValuesIn(kSimdLevels),
                         levelName);

// ---- The dispatcher ----

TEST(SimdDispatch, ForcedLevelIsTheOneInUse) {
  for (SimdLevel level : {SimdLevel::kNone, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    SCOPED_TRACE(simdLevelName(level));
    const SimdKernels* k = kernelsFor(level);
    if (level > cpuSimdLevel()) {
      EXPECT_EQ(k, nullptr);
      const SimdKernels* before = &activeKernels();
      EXPECT_FALSE(forceSimdLevel(level));
      EXPECT_EQ(&activeKernels(), before);
      continue;
    }
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->level, level);
    ASSERT_TRUE(forceSimdLevel(level));
    EXPECT_EQ(&activeKernels(), k);
    EXPECT_EQ(activeKernels().level, level);
  }
  ASSERT_TRUE(forceSimdLevel(environmentSimdLevel()));
}

TEST(SimdDispatch, EveryLevelHasItsOwnKernels) {
  const SimdKernels* none = kernelsFor(SimdLevel::kNone);
  ASSERT_NE(none, nullptr);
  for (SimdLevel level : kSimdLevels) {
    const SimdKernels* k = kernelsFor(level);
    if (k == nullptr) continue;
    EXPECT_NE(k->reduce, none->reduce);
    EXPECT_NE(k->halfToFloatN, none->halfToFloatN);
    EXPECT_NE(k->floatToBf16N, none->floatToBf16N);
  }
  if (kernelsFor(SimdLevel::kAvx2) != nullptr && kernelsFor(SimdLevel::kAvx512) != nullptr) {
    EXPECT_NE(kernelsFor(SimdLevel::kAvx2)->reduce, kernelsFor(SimdLevel::kAvx512)->reduce);
  }
}

TEST(SimdDispatch, MrdSimdValues) {
  std::string error;
  for (SimdLevel cpu : {SimdLevel::kNone, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    SCOPED_TRACE(simdLevelName(cpu));
    EXPECT_EQ(chooseSimdLevel("", cpu, &error), cpu);
    EXPECT_EQ(error, "");
    EXPECT_EQ(chooseSimdLevel("auto", cpu, &error), cpu);
    EXPECT_EQ(chooseSimdLevel("AUTO", cpu, &error), cpu);
    EXPECT_EQ(error, "");
    EXPECT_EQ(chooseSimdLevel("none", cpu, &error), SimdLevel::kNone);
    EXPECT_EQ(error, "");
    EXPECT_EQ(chooseSimdLevel("sse9", cpu, &error), cpu);
    EXPECT_NE(error.find("unknown value 'sse9'"), std::string::npos) << error;
  }
  EXPECT_EQ(chooseSimdLevel("avx2", SimdLevel::kAvx512, &error), SimdLevel::kAvx2);
  EXPECT_EQ(error, "");
  EXPECT_EQ(chooseSimdLevel("Avx512", SimdLevel::kAvx512, &error), SimdLevel::kAvx512);
  EXPECT_EQ(error, "");
  // More than the CPU has: a message, and auto.
  EXPECT_EQ(chooseSimdLevel("avx512", SimdLevel::kAvx2, &error), SimdLevel::kAvx2);
  EXPECT_NE(error.find("more than this CPU supports (avx2)"), std::string::npos) << error;
  EXPECT_EQ(chooseSimdLevel("avx2", SimdLevel::kNone, &error), SimdLevel::kNone);
  EXPECT_NE(error, "");
}

// ctest also runs this with MRD_SIMD=none and =avx2 (tests/CMakeLists.txt).
TEST(SimdDispatch, FirstUseFollowsMrdSimd) {
  const char* env = std::getenv("MRD_SIMD");
  std::string error;
  const SimdLevel want = chooseSimdLevel(env != nullptr ? env : "", cpuSimdLevel(), &error);
  EXPECT_EQ(environmentSimdLevel(), want);
  EXPECT_EQ(kernelsFor(want), &activeKernels());
}

}  // namespace
}  // namespace mrd::simd
