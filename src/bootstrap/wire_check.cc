#include "bootstrap/wire_check.h"

#include <netinet/in.h>
#include <sys/socket.h>

namespace mrd::bootstrap {

std::string checkRankInfo(RankInfo* info, int nranks) {
  info->hostId[sizeof info->hostId - 1] = '\0';
  info->hostname[sizeof info->hostname - 1] = '\0';
  if (info->rank < 0 || info->rank >= nranks) {
    return "rank " + std::to_string(info->rank) + " out of range [0, " + std::to_string(nranks) + ")";
  }
  const sa_family_t family = info->addr.ss_family;
  const size_t want = family == AF_INET ? sizeof(sockaddr_in) : family == AF_INET6 ? sizeof(sockaddr_in6) : 0;
  if (want == 0) return "listen address of family " + std::to_string(family) + " (not IPv4 or IPv6)";
  if (info->addrLen != want) {
    return "listen address length " + std::to_string(info->addrLen) + " (its family needs " + std::to_string(want) + ")";
  }
  return "";
}

HelloVerdict judgeHello(Hello* h, size_t got, const Secret& secret, std::string* why) {
  if (got > sizeof(Hello)) {
    *why = "more bytes than a hello";
    return HelloVerdict::kRefuse;
  }
  if (got >= sizeof(uint32_t) && h->magic != kHelloMagic) {
    *why = "not a Meridian hello (bad magic)";
    return HelloVerdict::kRefuse;
  }
  if (got >= 2 * sizeof(uint32_t) && h->version != kWireVersion) {
    *why = "wire version " + std::to_string(h->version) + ", this build speaks " + std::to_string(kWireVersion);
    return HelloVerdict::kRefuse;
  }
  if (got >= offsetof(Hello, rank) && !(h->secret == secret)) {
    *why = "wrong secret";
    return HelloVerdict::kRefuse;
  }
  if (got < sizeof(Hello)) return HelloVerdict::kNeedMore;
  if (h->nranks < 1 || h->nranks > kMaxRanks) {
    *why = "nranks " + std::to_string(h->nranks) + " out of range [1, " + std::to_string(kMaxRanks) + "]";
    return HelloVerdict::kRefuse;
  }
  if (h->rank < 0 || h->rank >= h->nranks || h->info.rank != h->rank) {
    *why = "rank " + std::to_string(h->rank) + " (its entry says " + std::to_string(h->info.rank) + ") of " +
           std::to_string(h->nranks);
    return HelloVerdict::kRefuse;
  }
  const std::string bad = checkRankInfo(&h->info, h->nranks);
  if (!bad.empty()) {
    *why = "rank " + std::to_string(h->rank) + ": " + bad;
    return HelloVerdict::kRefuse;
  }
  return HelloVerdict::kAccept;
}

std::string checkReply(Reply* rep, int nranks) {
  rep->message[sizeof rep->message - 1] = '\0';
  if (rep->magic != kReplyMagic) return "bad reply magic";
  if (rep->result != 0) return "";  // an error from the root: its message is the news
  if (rep->nranks != nranks) {
    return "the root's table has " + std::to_string(rep->nranks) + " ranks, this rank expects " + std::to_string(nranks);
  }
  return "";
}

std::string checkTable(std::vector<RankInfo>* table) {
  const int n = static_cast<int>(table->size());
  for (int r = 0; r < n; ++r) {
    RankInfo& e = (*table)[static_cast<size_t>(r)];
    std::string bad = checkRankInfo(&e, n);
    if (bad.empty() && e.rank != r) bad = "entry says rank " + std::to_string(e.rank);
    if (!bad.empty()) return "table entry " + std::to_string(r) + ": " + bad;
  }
  return "";
}

}  // namespace mrd::bootstrap
