#include "bootstrap/bootstrap.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "bootstrap/hello_gate.h"
#include "bootstrap/root.h"
#include "bootstrap/wire_check.h"
#include "config/params.h"
#include "log/log.h"

namespace mrd::bootstrap {

std::string localHostId() {
  char host[128] = {0};
  gethostname(host, sizeof host - 1);
  std::string boot;
  std::ifstream("/proc/sys/kernel/random/boot_id") >> boot;
  struct stat st{};
  unsigned long ns = stat("/proc/self/ns/net", &st) == 0 ? st.st_ino : 0;
  return std::string(host) + "|" + boot + "|" + std::to_string(ns);
}

net::Deadline Bootstrap::deadline() const {
  return net::Deadline::in(std::chrono::milliseconds(timeoutMs_), abort_);
}

bool Bootstrap::sameHost(int a, int b) const {
  return std::strncmp(info(a).hostId, info(b).hostId, sizeof(RankInfo::hostId)) == 0;
}

Status Bootstrap::create(const mrdUniqueId& id, int rank, int nranks, int timeoutMs,
                         const std::atomic<bool>* abort, std::unique_ptr<Bootstrap>* out) {
  IdPayload payload;
  MRD_TRY(decodeUniqueId(id, &payload));
  std::unique_ptr<Bootstrap> b(new Bootstrap());
  b->rank_ = rank;
  b->nranks_ = nranks;
  b->timeoutMs_ = timeoutMs;
  b->abort_ = abort;
  b->secret_ = payload.secret;

  // Listen for the ring on an address of the same family as the root's.
  const config::Params& params = config::processParams();
  net::SockAddr local, bound;
  std::string ifname;
  MRD_TRY(net::chooseLocalAddress(params.socketIfname, &local, &ifname));
  MRD_TRY(net::listenOn(local, 64, &b->listenFd_, &bound));

  RankInfo me{};
  me.rank = rank;
  me.pid = getpid();
  me.addrLen = bound.len;
  me.addr = bound.storage;
  std::snprintf(me.hostId, sizeof me.hostId, "%s", localHostId().c_str());
  gethostname(me.hostname, sizeof me.hostname - 1);

  if (payload.pinned && rank == 0) {
    net::SockAddr at = fromWire(payload.root), rootBound;
    MRD_TRY(startRoot(at, payload.secret, &rootBound).withContext("rank 0 hosting the root"));
  }
  MRD_TRY(b->joinRoot(payload, me));
  MRD_TRY(b->connectRing());
  *out = std::move(b);
  return Status::ok();
}

Status Bootstrap::joinRoot(const IdPayload& id, const RankInfo& me) {
  net::SockAddr root = fromWire(id.root);
  auto d = deadline();
  int fd = -1;
  Status st = net::connectTo(root, d, &fd);
  if (!st.isOk()) return st.withContext("rank " + std::to_string(rank_) + ": bootstrap root");
  Hello h{};
  h.magic = kHelloMagic;
  h.version = kWireVersion;
  h.secret = id.secret;
  h.rank = rank_;
  h.nranks = nranks_;
  h.info = me;
  Reply rep{};
  st = net::sendAll(fd, &h, sizeof h, d);
  if (st.isOk()) st = net::recvAll(fd, &rep, sizeof rep, d);
  if (st.isOk()) {
    const std::string bad = checkReply(&rep, nranks_);
    if (!bad.empty()) st = remoteError(bad);
  }
  if (st.isOk() && rep.result != mrdSuccess) st = Status(static_cast<mrdResult_t>(rep.result), rep.message);
  if (st.isOk()) {
    table_.resize(static_cast<size_t>(nranks_));
    st = net::recvAll(fd, table_.data(), table_.size() * sizeof(RankInfo), d);
  }
  if (st.isOk()) {
    const std::string bad = checkTable(&table_);
    if (!bad.empty()) st = remoteError("the root's table: " + bad);
  }
  net::closeFd(&fd);
  return st.withContext("rank " + std::to_string(rank_) + ": bootstrap with root " + root.str());
}

Status Bootstrap::connectRing() {
  if (nranks_ == 1) return Status::ok();
  int next = (rank_ + 1) % nranks_;
  int prev = (rank_ + nranks_ - 1) % nranks_;
  auto d = deadline();
  net::SockAddr addr;
  std::memcpy(&addr.storage, &info(next).addr, sizeof addr.storage);
  addr.len = info(next).addrLen;
  Status st = net::connectTo(addr, d, &nextFd_);
  RingHello mine{kRingMagic, secret_, rank_};
  if (st.isOk()) st = net::sendAll(nextFd_, &mine, sizeof mine, d);
  if (!st.isOk()) {
    return st.withContext("rank " + std::to_string(rank_) + ": bootstrap ring to rank " +
                          std::to_string(next));
  }
  // Accept until the previous rank shows up; anyone else is dropped (read
  // side by side: a silent stranger does not hold the ring up).
  net::HelloGate gate({listenFd_}, sizeof(RingHello), "rank " + std::to_string(rank_) + ": bootstrap ring",
                      log::Subsys::kBootstrap, [&](const void* bytes) -> std::string {
                        RingHello h;
                        std::memcpy(&h, bytes, sizeof h);
                        if (h.magic != kRingMagic) return "not a ring hello (bad magic)";
                        if (!(h.secret == secret_)) return "wrong secret (another job?)";
                        if (h.rank != prev) return "says it is rank " + std::to_string(h.rank) + ", not rank " + std::to_string(prev);
                        return "";
                      });
  RingHello theirs{};
  MRD_TRY(gate.next(d, &prevFd_, &theirs)
              .withContext("rank " + std::to_string(rank_) + ": waiting for rank " + std::to_string(prev)));
  // Nobody else may connect now: strangers get a refused connection.
  net::closeFd(&listenFd_);
  return Status::ok();
}

Status Bootstrap::allgather(void* data, size_t bytes) {
  char* base = static_cast<char*>(data);
  auto d = deadline();
  // Step s: pass on the slot of rank (r - s), receive the slot of (r - s - 1).
  for (int s = 0; s < nranks_ - 1; ++s) {
    int sendSlot = (rank_ - s + nranks_) % nranks_;
    int recvSlot = (rank_ - s - 1 + nranks_) % nranks_;
    Status st = net::sendRecvAll(nextFd_, base + sendSlot * bytes, bytes, prevFd_,
                                 base + recvSlot * bytes, bytes, d);
    if (!st.isOk()) {
      return st.withContext("rank " + std::to_string(rank_) + ": bootstrap allgather step " +
                            std::to_string(s));
    }
  }
  return Status::ok();
}

Status Bootstrap::barrier() {
  std::vector<char> bytes(static_cast<size_t>(nranks_), 1);
  return allgather(bytes.data(), 1);
}

void Bootstrap::shutdown() {
  if (nextFd_ >= 0) ::shutdown(nextFd_, SHUT_RDWR);
  if (prevFd_ >= 0) ::shutdown(prevFd_, SHUT_RDWR);
}

Bootstrap::~Bootstrap() {
  net::closeFd(&nextFd_);
  net::closeFd(&prevFd_);
  net::closeFd(&listenFd_);
}

}  // namespace mrd::bootstrap
