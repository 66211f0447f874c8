#include "core/arg_check.h"

#include <cstring>

#include "core/datatype.h"

namespace mrd {
namespace {

bool isCollective(CollKind k) { return k != CollKind::kSend && k != CollKind::kRecv; }

bool hasRoot(CollKind k) {
  return k == CollKind::kBroadcast || k == CollKind::kReduce || k == CollKind::kGather || k == CollKind::kScatter;
}

bool reduces(CollKind k) {
  return k == CollKind::kAllReduce || k == CollKind::kReduce || k == CollKind::kReduceScatter;
}

CallSignature::Entry entryOf(const CollRequest& r) {
  CallSignature::Entry e;
  e.kind = static_cast<uint8_t>(r.kind);
  // A barrier's count and type are the library's own.
  e.count = r.kind == CollKind::kBarrier || r.kind == CollKind::kAlltoAllv ? 0 : r.count;
  e.type = r.kind == CollKind::kBarrier ? 0 : static_cast<uint8_t>(r.type);
  e.root = hasRoot(r.kind) ? r.root : -1;
  e.op = 0xff;
  if (reduces(r.kind)) {
    e.op = static_cast<uint8_t>(r.reduce.kind);
    // (Not PreMulSum's factor: each rank may scale by its own, as in NCCL.)
    e.flags = static_cast<uint8_t>((r.reduce.average ? 1 : 0) | (r.reduce.preMultiply ? 2 : 0));
  }
  return e;
}

uint32_t fnv1a(uint32_t h, const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 16777619u;
  return h;
}

uint32_t hashEntry(uint32_t h, const CallSignature::Entry& e) {
  h = fnv1a(h, &e.count, sizeof e.count);
  h = fnv1a(h, &e.root, sizeof e.root);
  return fnv1a(h, &e.kind, 4);  // kind, type, op, flags
}

std::string describeEntry(const CallSignature::Entry& e) {
  const auto kind = static_cast<CollKind>(e.kind);
  std::string s = collName(kind);
  if (kind == CollKind::kBarrier) return s;
  if (kind != CollKind::kAlltoAllv) {
    s += " of " + std::to_string(e.count) + " " + dataTypeName(static_cast<mrdDataType_t>(e.type));
  } else {
    s += std::string(" of ") + dataTypeName(static_cast<mrdDataType_t>(e.type));
  }
  std::string extra;
  if (e.op != 0xff) {
    static const char* const kOps[] = {"sum", "prod", "max", "min"};
    extra = e.op < 4 ? kOps[e.op] : "op " + std::to_string(e.op);
    if (e.flags & 1) extra = "avg";
    if (e.flags & 2) extra = "premulsum";
  }
  if (e.root >= 0) extra += (extra.empty() ? "" : ", ") + std::string("root ") + std::to_string(e.root);
  return extra.empty() ? s : s + " (" + extra + ")";
}

bool sameEntry(const CallSignature::Entry& a, const CallSignature::Entry& b) {
  return a.count == b.count && a.root == b.root && a.kind == b.kind && a.type == b.type && a.op == b.op &&
         a.flags == b.flags;
}

}  // namespace

bool callIsChecked(const CollRequest* reqs, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (isCollective(reqs[i].kind)) return true;
  }
  return false;
}

void signatureOf(const CollRequest* reqs, size_t n, CallSignature* out) {
  *out = CallSignature{};
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; ++i) {
    if (!isCollective(reqs[i].kind)) continue;
    const CallSignature::Entry e = entryOf(reqs[i]);
    if (out->ncoll < kSignatureColls) out->entries[out->ncoll] = e;
    ++out->ncoll;
    h = hashEntry(h, e);
  }
  out->hash = h;
}

std::string describeSignature(const CallSignature& s) {
  std::string d;
  const uint32_t shown = s.ncoll < kSignatureColls ? s.ncoll : kSignatureColls;
  for (uint32_t i = 0; i < shown; ++i) d += (i > 0 ? ", " : "") + describeEntry(s.entries[i]);
  if (s.ncoll > shown) d += " and " + std::to_string(s.ncoll - shown) + " more";
  if (s.ncoll > 1) d = "a group of " + std::to_string(s.ncoll) + " collectives: " + d;
  return d.empty() ? "no collective" : d;
}

std::string compareSignatures(const CallSignature& mine, const CallSignature& theirs, int peer) {
  bool same = mine.ncoll == theirs.ncoll && mine.hash == theirs.hash;
  const uint32_t shown = mine.ncoll < kSignatureColls ? mine.ncoll : kSignatureColls;
  for (uint32_t i = 0; same && i < shown; ++i) same = sameEntry(mine.entries[i], theirs.entries[i]);
  if (same) return "";
  std::string d = "this rank called " + describeSignature(mine) + " where rank " + std::to_string(peer) +
                  " called " + describeSignature(theirs);
  if (mine.ncoll == theirs.ncoll && describeSignature(mine) == describeSignature(theirs)) {
    d += " (they differ beyond the first " + std::to_string(kSignatureColls) + " collectives of the group)";
  }
  return d;
}

}  // namespace mrd
