// Names for log lines and error messages, spelled the way nccl-tests prints them so output
// from the two is easy to compare.
#include "core/datatype.h"

namespace mrd {

const char* dataTypeName(mrdDataType_t t) {
  switch (t) {
    case mrdInt8: return "int8";
    case mrdUint8: return "uint8";
    case mrdInt32: return "int32";
    case mrdUint32: return "uint32";
    case mrdInt64: return "int64";
    case mrdUint64: return "uint64";
    case mrdFloat16: return "half";
    case mrdFloat32: return "float";
    case mrdFloat64: return "double";
    case mrdBfloat16: return "bfloat16";
    case mrdFloat8e4m3: return "f8e4m3";
    case mrdFloat8e5m2: return "f8e5m2";
    default: return "unknown";
  }
}

const char* redOpName(int op) {
  switch (op) {
    case mrdSum: return "sum";
    case mrdProd: return "prod";
    case mrdMax: return "max";
    case mrdMin: return "min";
    case mrdAvg: return "avg";
    default:
      // Values from mrdNumOps up are handed out by mrdRedOpCreatePreMulSum.
      return op >= mrdNumOps ? "premulsum" : "unknown";
  }
}

}  // namespace mrd
