// The SIMD reduction kernels, written once for any vector width with GCC's vector extensions.
//
// Only reduce_simd_avx2.cc and reduce_simd_avx512.cc include this, after their
// `#pragma GCC target`, so each compiles its own copy for its instruction set. Everything here
// has internal linkage (an unnamed namespace) so the linker can never merge the AVX-512 copy of a
// function into code that runs on a CPU without it, as it may with inline functions or template
// instantiations that have external linkage; for the same reason this file includes nothing
// (the including file includes <cstddef>, <cstdint> and reduce_dispatch.h before its pragma).
//
// Semantics are those of the scalar loops in reduce.cc, lane by lane: the same single operation
// per element, max/min as the same comparison and select (with a NaN operand the result is b),
// integer sum and product in unsigned lanes so they wrap. Narrow floats are widened exactly,
// combined in float and rounded once to nearest even, bit for bit as float_formats.cc does (see
// HalfFormat and Bf16Format for the details that needed care). The one thing not pinned down,
// here as in the scalar loops: which payload the sum or product of two NaNs keeps (x86 keeps
// the first operand's, and GCC orders the operands of a commutative + or * as it likes).
#pragma once

namespace mrd::simd {
namespace {

template <typename T, size_t kBytes>
struct VectorOf {
  typedef T type __attribute__((vector_size(kBytes)));
};

// A lane type says how kCount elements in memory (Storage) become one vector (Vec) and back.

// Elements the vectors compute in directly.
template <typename T, size_t kBytes>
struct NativeLanes {
  using Storage = T;
  using Vec = typename VectorOf<T, kBytes>::type;
  static constexpr size_t kCount = kBytes / sizeof(T);
  static Vec load(const T* p) {
    Vec v;
    __builtin_memcpy(&v, p, sizeof v);  // an unaligned vector load
    return v;
  }
  static void store(T* p, Vec v) { __builtin_memcpy(p, &v, sizeof v); }
};

// The vector types of a width, for the struct Isa below.
template <size_t kBytes>
struct VectorTypes {
  using Vec = typename VectorOf<float, kBytes>::type;
  using Bits = typename VectorOf<uint32_t, kBytes>::type;
  using Narrow = typename VectorOf<uint16_t, kBytes / 2>::type;
};

// The instruction-set specific part, which each including file supplies as a struct Isa for its
// vector width: VectorTypes<width> (Vec: float lanes, Bits: as many uint32_t, Narrow: as many
// uint16_t) and static functions
//   Vec halfToFloat(Narrow)   exact widening (F16C vcvtph2ps; quiets signalling NaNs)
//   Narrow floatToHalf(Vec)   narrowing, round to nearest even (vcvtps2ph, immediate 0)
//   Bits zeroExtend(Narrow)   each 16-bit lane zero-extended to 32 bits
//   Narrow truncate(Bits)     the low 16 bits of each 32-bit lane (all below 2^16 here)
// (GCC's generic __builtin_convertvector takes four instructions for one zero-extension on AVX2.)

// A 16-bit float format in float vectors, converted a vector's worth at a time by
// Format::widen (Narrow -> Vec, exact) and Format::narrow (Vec -> Narrow).
template <class Format>
struct Float16BitLanes {
  using Storage = uint16_t;
  using Vec = typename Format::Vec;
  using Narrow = typename Format::Narrow;
  static constexpr size_t kCount = sizeof(Vec) / sizeof(float);
  static Vec load(const uint16_t* p) {
    Narrow h;
    __builtin_memcpy(&h, p, sizeof h);
    return Format::widen(h);
  }
  static void store(uint16_t* p, Vec v) {
    const Narrow h = Format::narrow(v);
    __builtin_memcpy(p, &h, sizeof h);
  }
};

// bfloat16. Widening is a shift. Narrowing rounds in integer lanes: the hardware instruction
// (AVX512_BF16 vcvtneps2bf16) flushes denormals to zero and so does not match floatToBf16,
// whose rounding this is, including the NaN rule (truncate, set the quiet bit).
template <class Isa>
struct Bf16Format {
  using Vec = typename Isa::Vec;
  using Narrow = typename Isa::Narrow;
  static Vec widen(Narrow h) { return reinterpret_cast<Vec>(Isa::zeroExtend(h) << 16); }
  static Narrow narrow(Vec v) {
    using Bits = typename Isa::Bits;
    const Bits x = reinterpret_cast<Bits>(v);
    const Bits rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
    const Bits nan = (x >> 16) | 0x0040u;
    return Isa::truncate(v != v ? nan : rounded);
  }
};

// float16, by Isa::halfToFloat and Isa::floatToHalf (F16C-style instructions). Narrowing
// matches floatToHalf for every float32 (checked exhaustively over all 2^32 inputs on AVX2 and
// AVX-512): subnormals, overflow to infinity and NaN (quiet bit set, top of the payload kept)
// alike. Widening is exact but quiets signalling NaNs, which halfToFloat keeps signalling; with
// kExactNans, widen() clears the quiet bit again where the half had it clear. The reductions do
// without that work: a NaN operand of +, * or the max/min select gives a NaN result that
// narrow() quiets anyway, keeping the same top payload bits, so their results are the same.
template <class Isa, bool kExactNans>
struct HalfFormat {
  using Vec = typename Isa::Vec;
  using Narrow = typename Isa::Narrow;
  static Vec widen(Narrow h) {
    const Vec f = Isa::halfToFloat(h);
    if constexpr (!kExactNans) return f;
    using Bits = typename Isa::Bits;
    const Bits halfQuietBitClear = ~(Isa::zeroExtend(h) << 13) & 0x00400000u;
    const Bits isNan = reinterpret_cast<Bits>(f != f);
    return reinterpret_cast<Vec>(reinterpret_cast<Bits>(f) & ~(isNan & halfQuietBitClear));
  }
  static Narrow narrow(Vec v) { return Isa::floatToHalf(v); }
};

// ---- Element-wise operations on whole vectors (the scalar ones in reduce.cc, lane by lane) ----

struct SumLanes {
  template <typename V>
  V operator()(V a, V b) const {
    return a + b;
  }
};
struct ProdLanes {
  template <typename V>
  V operator()(V a, V b) const {
    return a * b;
  }
};
struct MaxLanes {
  template <typename V>
  V operator()(V a, V b) const {
    return a > b ? a : b;
  }
};
struct MinLanes {
  template <typename V>
  V operator()(V a, V b) const {
    return a < b ? a : b;
  }
};
struct SameLanes {
  template <typename V>
  V operator()(V a) const {
    return a;
  }
};

// The last elements of an input, fewer than a vector's worth, zero-padded to a full vector.
template <class Lanes>
struct PaddedTail {
  typename Lanes::Storage data[Lanes::kCount] = {};
  PaddedTail(const typename Lanes::Storage* p, size_t n) {
    __builtin_memcpy(data, p, n * sizeof data[0]);
  }
};

// out[i] = f(in[i]...) for i < n, a vector at a time. Every input vector is read before the
// output vector is written, so out may be any of the inputs exactly. The elements past the last
// full vector go through zero-padded buffers and the same vector code, so a tail computes what
// the same elements would in the middle of a buffer.
template <class Out, class... In, class F>
void mapLanes(F f, typename Out::Storage* out, size_t n, const typename In::Storage*... in) {
  constexpr size_t kCount = Out::kCount;
  size_t i = 0;
  for (; i + kCount <= n; i += kCount) Out::store(out + i, f(In::load(in + i)...));
  if (i == n) return;
  const size_t rest = n - i;
  typename Out::Storage result[kCount];
  Out::store(result, f(In::load(PaddedTail<In>(in + i, rest).data)...));
  __builtin_memcpy(out + i, result, rest * sizeof result[0]);
}

// Sum and product in Arith lanes, max and min in Ordered ones: for signed integers the unsigned
// type of the same width (wrapping) and the signed type (signed comparison).
template <class Arith, class Ordered>
void reduceLanes(void* dst, const void* a, const void* b, size_t n, RedKind kind) {
  using A = typename Arith::Storage;
  using O = typename Ordered::Storage;
  static_assert(sizeof(A) == sizeof(O) && Arith::kCount == Ordered::kCount);
  auto* arithDst = static_cast<A*>(dst);
  auto* arithA = static_cast<const A*>(a);
  auto* arithB = static_cast<const A*>(b);
  auto* orderedDst = static_cast<O*>(dst);
  auto* orderedA = static_cast<const O*>(a);
  auto* orderedB = static_cast<const O*>(b);
  switch (kind) {
    case RedKind::kSum:
      mapLanes<Arith, Arith, Arith>(SumLanes{}, arithDst, n, arithA, arithB);
      break;
    case RedKind::kProd:
      mapLanes<Arith, Arith, Arith>(ProdLanes{}, arithDst, n, arithA, arithB);
      break;
    case RedKind::kMax:
      mapLanes<Ordered, Ordered, Ordered>(MaxLanes{}, orderedDst, n, orderedA, orderedB);
      break;
    case RedKind::kMin:
      mapLanes<Ordered, Ordered, Ordered>(MinLanes{}, orderedDst, n, orderedA, orderedB);
      break;
  }
}

// SimdKernels::reduce for vectors of kBytes. Every type but the fp8 formats.
template <size_t kBytes, class Isa>
bool reduceAnyType(void* dst, const void* a, const void* b, size_t n, mrdDataType_t type,
                   RedKind kind) {
  using Half = Float16BitLanes<HalfFormat<Isa, false>>;
  using Bf16 = Float16BitLanes<Bf16Format<Isa>>;
  using U8 = NativeLanes<uint8_t, kBytes>;
  using U32 = NativeLanes<uint32_t, kBytes>;
  using U64 = NativeLanes<uint64_t, kBytes>;
  using F32 = NativeLanes<float, kBytes>;
  using F64 = NativeLanes<double, kBytes>;
  switch (type) {
    case mrdInt8: reduceLanes<U8, NativeLanes<int8_t, kBytes>>(dst, a, b, n, kind); return true;
    case mrdUint8: reduceLanes<U8, U8>(dst, a, b, n, kind); return true;
    case mrdInt32: reduceLanes<U32, NativeLanes<int32_t, kBytes>>(dst, a, b, n, kind); return true;
    case mrdUint32: reduceLanes<U32, U32>(dst, a, b, n, kind); return true;
    case mrdInt64: reduceLanes<U64, NativeLanes<int64_t, kBytes>>(dst, a, b, n, kind); return true;
    case mrdUint64: reduceLanes<U64, U64>(dst, a, b, n, kind); return true;
    case mrdFloat32: reduceLanes<F32, F32>(dst, a, b, n, kind); return true;
    case mrdFloat64: reduceLanes<F64, F64>(dst, a, b, n, kind); return true;
    case mrdFloat16: reduceLanes<Half, Half>(dst, a, b, n, kind); return true;
    case mrdBfloat16: reduceLanes<Bf16, Bf16>(dst, a, b, n, kind); return true;
    default: return false;
  }
}

// A block conversion between two lane types of the same vectors.
template <class Out, class In>
void convertLanes(const typename In::Storage* in, typename Out::Storage* out, size_t n) {
  mapLanes<Out, In>(SameLanes{}, out, n, in);
}

// The whole table for vectors of kBytes.
template <size_t kBytes, class Isa>
SimdKernels makeKernels(SimdLevel level) {
  static_assert(sizeof(typename Isa::Vec) == kBytes);
  using Half = Float16BitLanes<HalfFormat<Isa, true>>;
  using Bf16 = Float16BitLanes<Bf16Format<Isa>>;
  using F32 = NativeLanes<float, kBytes>;
  return SimdKernels{level,
                     reduceAnyType<kBytes, Isa>,
                     convertLanes<F32, Half>,
                     convertLanes<Half, F32>,
                     convertLanes<F32, Bf16>,
                     convertLanes<Bf16, F32>};
}

}  // namespace
}  // namespace mrd::simd
