// Element sizes and names of the public datatypes and reduction ops.
#pragma once

#include <cstddef>

#include "meridian/meridian.h"

namespace mrd {

inline bool validDataType(int t) { return t >= 0 && t < mrdNumTypes; }

// Bytes per element; 0 for an invalid type.
inline size_t dataTypeSize(mrdDataType_t t) {
  switch (t) {
    case mrdInt8: case mrdUint8: case mrdFloat8e4m3: case mrdFloat8e5m2: return 1;
    case mrdFloat16: case mrdBfloat16: return 2;
    case mrdInt32: case mrdUint32: case mrdFloat32: return 4;
    case mrdInt64: case mrdUint64: case mrdFloat64: return 8;
    default: return 0;
  }
}

const char* dataTypeName(mrdDataType_t t);
const char* redOpName(int op);

}  // namespace mrd
