// MRD_CHECK_ARGS=1: before a call that holds a collective runs, the ranks
// exchange what they were asked to do (collective, count, datatype, op,
// root, for up to kSignatureColls collectives of a group, and a hash of
// all of them) and compare; a difference fails the call with
// mrdInvalidUsage on every rank, naming both sides' values, instead of a
// hang or wrong results. Sends and receives are not compared (they differ
// between ranks by nature), and a call of sends and receives only is not
// checked (the ranks not in it would not join the exchange).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/coll_request.h"

namespace mrd {

constexpr int kSignatureColls = 3;

// What one rank's call asks for, as exchanged (fixed size, plain bytes).
struct CallSignature {
  uint32_t ncoll = 0;  // collectives in the call
  uint32_t hash = 0;   // of every collective's entry, in order
  struct Entry {
    uint64_t count = 0;
    int32_t root = -1;  // -1: the collective has none
    uint8_t kind = 0;   // CollKind
    uint8_t type = 0;   // mrdDataType_t
    uint8_t op = 0;     // RedKind, 0xff: not a reduction
    uint8_t flags = 0;  // 1: average, 2: pre-multiplied (each rank's factor its own)
  } entries[kSignatureColls];
};

// Whether the call is checked: it holds a collective.
bool callIsChecked(const CollRequest* reqs, size_t n);
void signatureOf(const CollRequest* reqs, size_t n, CallSignature* out);
// "allreduce of 1024 float (sum)", a group's collectives joined by ", ".
std::string describeSignature(const CallSignature& s);
// "" when equal, else what differs: "this rank called X where rank P called Y".
std::string compareSignatures(const CallSignature& mine, const CallSignature& theirs, int peer);

}  // namespace mrd
