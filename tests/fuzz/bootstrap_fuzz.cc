// libFuzzer target: the bootstrap's parsers, on the bytes a connection or a
// user hands them (bootstrap/wire_check.h, root.h, core/launch_env.h):
//   byte 0 % 4 selects what the rest is:
//   0: a Hello arriving at the root in pieces (byte 1: piece size - 1);
//      the job's secret is all zeros, so inputs can pass the secret check
//   1: the root's Reply then its table, at a rank of a job of
//      (byte 1 % 8) + 1 ranks
//   2: an mrdUniqueId's bytes
//   3: an mrdUniqueId's text form (MRD_UNIQUE_ID)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bootstrap/root.h"
#include "bootstrap/wire_check.h"
#include "core/launch_env.h"

using namespace mrd::bootstrap;

namespace {

void hello(const uint8_t* p, size_t n) {
  if (n < 1) return;
  const size_t piece = size_t{p[0]} + 1;
  ++p;
  --n;
  Hello h{};
  const Secret secret{};
  size_t got = 0;
  std::string why;
  while (got < n) {
    const size_t take = std::min({piece, n - got, sizeof(Hello) - std::min(got, sizeof(Hello))});
    if (take == 0) break;  // the root never reads past a whole hello
    std::memcpy(reinterpret_cast<char*>(&h) + got, p + got, take);
    got += take;
    if (judgeHello(&h, got, secret, &why) != HelloVerdict::kNeedMore) break;
  }
}

void replyAndTable(const uint8_t* p, size_t n) {
  if (n < 1) return;
  const int nranks = p[0] % 8 + 1;
  ++p;
  --n;
  Reply rep{};
  std::memcpy(&rep, p, std::min(n, sizeof rep));
  if (!checkReply(&rep, nranks).empty() || rep.result != 0 || n < sizeof rep) return;
  std::vector<RankInfo> table(static_cast<size_t>(nranks));
  std::memcpy(table.data(), p + sizeof rep, std::min(n - sizeof rep, table.size() * sizeof(RankInfo)));
  (void)checkTable(&table);
}

void uniqueIdBytes(const uint8_t* p, size_t n) {
  mrdUniqueId id{};
  std::memcpy(&id, p, std::min(n, sizeof id));
  IdPayload payload;
  if (decodeUniqueId(id, &payload).isOk()) (void)fromWire(payload.root).str();
}

void uniqueIdText(const uint8_t* p, size_t n) {
  mrdUniqueId id{};
  (void)mrd::uniqueIdFromString(std::string(reinterpret_cast<const char*>(p), n), &id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  switch (data[0] % 4) {
    case 0: hello(data + 1, size - 1); break;
    case 1: replyAndTable(data + 1, size - 1); break;
    case 2: uniqueIdBytes(data + 1, size - 1); break;
    default: uniqueIdText(data + 1, size - 1); break;
  }
  return 0;
}
