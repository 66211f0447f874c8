// Element-wise reduction kernels for every datatype and op.
//
// float16, bfloat16 and the fp8 formats are widened to float32 to combine
// and rounded back (round to nearest even) once per call. The loops are
// written so the compiler vectorises them (-O3); on x86-64 reduceArrays and
// the float16/bfloat16 conversions use AVX2 or AVX-512 kernels chosen at run
// time instead (reduce_dispatch.h), with bit-identical results. They never
// allocate.
#pragma once

#include <cstddef>

#include "meridian/meridian.h"

namespace mrd {

// The combining function behind a public op. Avg combines as Sum and is
// divided once at the end (divideInPlace); PreMulSum scales each rank's
// input first (scaleInto) and then combines as Sum.
enum class RedKind { kSum, kProd, kMax, kMin };

// dst[i] = a[i] (op) b[i] for i < count. dst may alias a or b exactly.
void reduceArrays(void* dst, const void* a, const void* b, size_t count, mrdDataType_t type,
                  RedKind kind);

// dst[i] = src[i] * factor (dst may alias src). Integer types round toward zero.
void scaleInto(void* dst, const void* src, size_t count, mrdDataType_t type, double factor);

// buf[i] /= divisor. Integer types use integer division (as NCCL's avg).
void divideInPlace(void* buf, size_t count, mrdDataType_t type, int divisor);

// Conversions used by the kernels and by tests' reference code.
float halfToFloat(unsigned short h);
unsigned short floatToHalf(float f);
float bf16ToFloat(unsigned short b);
unsigned short floatToBf16(float f);
float fp8e4m3ToFloat(unsigned char v);
unsigned char floatToFp8e4m3(float f);  // saturates to +-448, NaN stays NaN
float fp8e5m2ToFloat(unsigned char v);
unsigned char floatToFp8e5m2(float f);  // overflow goes to +-inf

}  // namespace mrd
