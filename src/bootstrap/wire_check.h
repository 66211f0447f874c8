// Bounds checks for what arrives over bootstrap sockets (wire.h): every
// length, count and rank is checked before it is used, and every text
// field is cut to its buffer. Pure functions over the bytes received, so
// the fuzz target (tests/fuzz/bootstrap_fuzz.cc) drives exactly the code
// the root and the ranks run.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "bootstrap/wire.h"

namespace mrd::bootstrap {

// A rank's own entry: a rank in [0, nranks), an IPv4/IPv6 listen address of
// the right length; its strings are NUL-terminated in place. "" when valid.
std::string checkRankInfo(RankInfo* info, int nranks);

// The root's view of a Hello of which `got` bytes have arrived.
enum class HelloVerdict { kNeedMore, kAccept, kRefuse };
HelloVerdict judgeHello(Hello* h, size_t got, const Secret& secret, std::string* why);

// A rank's view of the root's reply (its message NUL-terminated in place)
// and then of the table: every entry valid and in its own slot.
std::string checkReply(Reply* rep, int nranks);
std::string checkTable(std::vector<RankInfo>* table);

}  // namespace mrd::bootstrap
