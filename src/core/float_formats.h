// Block conversions between the narrow float formats and float32, used by
// the reduction kernels (written so the compiler vectorises them). The
// single-value versions are declared in reduce.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mrd::internal {

void halfToFloatN(const uint16_t* in, float* out, size_t n);
void floatToHalfN(const float* in, uint16_t* out, size_t n);
void bf16ToFloatN(const uint16_t* in, float* out, size_t n);
void floatToBf16N(const float* in, uint16_t* out, size_t n);
void fp8e4m3ToFloatN(const uint8_t* in, float* out, size_t n);
void floatToFp8e4m3N(const float* in, uint8_t* out, size_t n);
void fp8e5m2ToFloatN(const uint8_t* in, float* out, size_t n);
void floatToFp8e5m2N(const float* in, uint8_t* out, size_t n);

}  // namespace mrd::internal
