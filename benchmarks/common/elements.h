// Host-side conversions between doubles and elements of every datatype,
// written here so the benchmarks depend on the public header only.
#pragma once

#include <cstdint>

#include "meridian/meridian.h"

namespace mrdperf {

// The element bits (little-endian, in the low bytes) of value rounded to the
// nearest value of type (ties to even; integers are truncated).
uint64_t EncodeElement(double value, mrdDataType_t type);

// The value of the element at elem.
double DecodeElement(const void* elem, mrdDataType_t type);

// The spacing of type's values near value (0 for integer types).
double UlpOf(double value, mrdDataType_t type);

// Largest N such that all integers in [0, N] are exact in type (capped at
// 2^30 for the wide integer and floating types).
int64_t ExactIntegerLimit(mrdDataType_t type);

}  // namespace mrdperf
