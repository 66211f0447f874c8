// The operations of the C API: argument checks, then either queued in the
// open group or submitted to the communicator.
#include <limits>

#include "core/api_guard.h"
#include "core/datatype.h"
#include "core/group.h"
#include "log/log.h"

namespace mrd {

const char* collName(CollKind k) {
  switch (k) {
    case CollKind::kAllReduce: return "allreduce";
    case CollKind::kBroadcast: return "broadcast";
    case CollKind::kReduce: return "reduce";
    case CollKind::kAllGather: return "allgather";
    case CollKind::kReduceScatter: return "reducescatter";
    case CollKind::kAlltoAll: return "alltoall";
    case CollKind::kAlltoAllv: return "alltoallv";
    case CollKind::kGather: return "gather";
    case CollKind::kScatter: return "scatter";
    case CollKind::kSend: return "send";
    case CollKind::kRecv: return "recv";
    case CollKind::kBarrier: return "barrier";
  }
  return "unknown";
}

namespace api {
namespace {


bool mulOverflows(size_t a, size_t b) { return b != 0 && a > std::numeric_limits<size_t>::max() / b; }

std::string where(mrdComm_t comm, const CollRequest& r) {
  return std::string(collName(r.kind)) + " on rank " + std::to_string(comm->rank());
}

// Elements a buffer must hold on this rank, or an error if that overflows.
Status checkBuffer(mrdComm_t comm, const CollRequest& r, const void* buf, size_t elems,
                   const char* which) {
  size_t ts = dataTypeSize(r.type);
  if (mulOverflows(elems, ts)) {
    return invalidArgument(where(comm, r) + ": " + std::to_string(elems) + " elements of " +
                           dataTypeName(r.type) + " overflow the address space");
  }
  if (elems > 0 && buf == nullptr) {
    return invalidArgument(where(comm, r) + ": " + which + " is NULL with " +
                           std::to_string(elems) + " elements");
  }
  return Status::ok();
}

Status validate(mrdComm_t comm, mrdStream_t stream, CollRequest* r, int op, bool hasOp,
                bool hasRoot) {
  MRD_TRY(checkComm(comm, collName(r->kind)));
  if (stream != nullptr && stream->comm() != comm) {
    return invalidArgument(where(comm, *r) + ": the stream belongs to another communicator");
  }
  if (!validDataType(r->type)) {
    return invalidArgument(where(comm, *r) + ": unknown datatype " + std::to_string(static_cast<int>(r->type)));
  }
  if (hasOp) {
    Status st = comm->reduceSpecOf(static_cast<mrdRedOp_t>(op), &r->reduce);
    if (!st.isOk()) return st.withContext(where(comm, *r));  // the context only on the error path
  }
  const int n = comm->nranks(), me = comm->rank();
  if (hasRoot && (r->root < 0 || r->root >= n)) {
    bool p2p = r->kind == CollKind::kSend || r->kind == CollKind::kRecv;
    return invalidArgument(where(comm, *r) + ": " + (p2p ? "peer " : "root ") +
                           std::to_string(r->root) + " out of range [0, " + std::to_string(n) + ")");
  }
  const size_t c = r->count;
  if (mulOverflows(c, static_cast<size_t>(n))) {
    return invalidArgument(where(comm, *r) + ": count " + std::to_string(c) + " x nranks overflows");
  }
  const size_t cn = c * static_cast<size_t>(n);
  const bool isRoot = r->root == me;
  switch (r->kind) {
    case CollKind::kAllReduce:
      MRD_TRY(checkBuffer(comm, *r, r->sendbuf, c, "sendbuff"));
      return checkBuffer(comm, *r, r->recvbuf, c, "recvbuff");
    case CollKind::kBroadcast:
      if (isRoot) MRD_TRY(checkBuffer(comm, *r, r->sendbuf, c, "sendbuff"));
      return checkBuffer(comm, *r, r->recvbuf, c, "recvbuff");
    case CollKind::kReduce:
      MRD_TRY(checkBuffer(comm, *r, r->sendbuf, c, "sendbuff"));
      return checkBuffer(comm, *r, r->recvbuf, isRoot ? c : 0, "recvbuff");
    case CollKind::kAllGather:
      MRD_TRY(checkBuffer(comm, *r, r->sendbuf, c, "sendbuff"));
      return checkBuffer(comm, *r, r->recvbuf, cn, "recvbuff");
    case CollKind::kReduceScatter:
    case CollKind::kAlltoAll:
      MRD_TRY(checkBuffer(comm, *r, r->sendbuf, cn, "sendbuff"));
      return checkBuffer(comm, *r, r->recvbuf, r->kind == CollKind::kAlltoAll ? cn : c, "recvbuff");
    case CollKind::kGather:
      MRD_TRY(checkBuffer(comm, *r, r->sendbuf, c, "sendbuff"));
      return checkBuffer(comm, *r, r->recvbuf, isRoot ? cn : 0, "recvbuff");
    case CollKind::kScatter:
      MRD_TRY(checkBuffer(comm, *r, r->sendbuf, isRoot ? cn : 0, "sendbuff"));
      return checkBuffer(comm, *r, r->recvbuf, c, "recvbuff");
    case CollKind::kSend:
      return checkBuffer(comm, *r, r->sendbuf, c, "sendbuff");
    case CollKind::kRecv:
      return checkBuffer(comm, *r, r->recvbuf, c, "recvbuff");
    case CollKind::kAlltoAllv: {
      for (int i = 0; i < n; ++i) {
        size_t k = static_cast<size_t>(i);
        if (r->sdispls[k] > std::numeric_limits<size_t>::max() - r->sendcounts[k] ||
            r->rdispls[k] > std::numeric_limits<size_t>::max() - r->recvcounts[k]) {
          return invalidArgument(where(comm, *r) + ": counts + displacements overflow (peer " +
                                 std::to_string(i) + ")");
        }
        MRD_TRY(checkBuffer(comm, *r, r->sendbuf, r->sdispls[k] + r->sendcounts[k], "sendbuff"));
        MRD_TRY(checkBuffer(comm, *r, r->recvbuf, r->rdispls[k] + r->recvcounts[k], "recvbuff"));
      }
      return Status::ok();
    }
    case CollKind::kBarrier:
      return Status::ok();
  }
  return Status::ok();
}

bool nothingToDo(const CollRequest& r) {
  switch (r.kind) {
    case CollKind::kBarrier:
    case CollKind::kAlltoAllv:
      return false;
    default:
      return r.count == 0;
  }
}

mrdResult_t issue(mrdComm_t comm, mrdStream_t stream, CollRequest req, int op, bool hasOp,
                  bool hasRoot) {
  log::ScopedRank scoped(comm != nullptr && comm->valid() ? comm->rank() : -1);
  return guardedComm(comm, collName(req.kind), [&]() -> Status {
    MRD_TRY(validate(comm, stream, &req, op, hasOp, hasRoot));
    if (nothingToDo(req)) return Status::ok();
    if (groupOpen()) {
      groupAdd(comm, stream, std::move(req));
      return Status::ok();
    }
    return comm->submitOne(std::move(req), stream);
  });
}

CollRequest make(CollKind k, const void* s, void* r, size_t count, mrdDataType_t t, int root) {
  CollRequest q;
  q.kind = k;
  q.sendbuf = s;
  q.recvbuf = r;
  q.count = count;
  q.type = t;
  q.root = root;
  return q;
}

}  // namespace

}  // namespace api
}  // namespace mrd

using namespace mrd;
using api::issue;

extern "C" {

mrdResult_t mrdAllReduce(const void* s, void* r, size_t count, mrdDataType_t t, mrdRedOp_t op,
                         mrdComm_t comm, mrdStream_t stream) {
  return issue(comm, stream, api::make(CollKind::kAllReduce, s, r, count, t, 0), op, true, false);
}

mrdResult_t mrdBroadcast(const void* s, void* r, size_t count, mrdDataType_t t, int root,
                         mrdComm_t comm, mrdStream_t stream) {
  return issue(comm, stream, api::make(CollKind::kBroadcast, s, r, count, t, root), 0, false, true);
}

mrdResult_t mrdReduce(const void* s, void* r, size_t count, mrdDataType_t t, mrdRedOp_t op,
                      int root, mrdComm_t comm, mrdStream_t stream) {
  return issue(comm, stream, api::make(CollKind::kReduce, s, r, count, t, root), op, true, true);
}

mrdResult_t mrdAllGather(const void* s, void* r, size_t count, mrdDataType_t t, mrdComm_t comm,
                         mrdStream_t stream) {
  return issue(comm, stream, api::make(CollKind::kAllGather, s, r, count, t, 0), 0, false, false);
}

mrdResult_t mrdReduceScatter(const void* s, void* r, size_t count, mrdDataType_t t,
                             mrdRedOp_t op, mrdComm_t comm, mrdStream_t stream) {
  return issue(comm, stream, api::make(CollKind::kReduceScatter, s, r, count, t, 0), op, true,
               false);
}

mrdResult_t mrdAlltoAll(const void* s, void* r, size_t count, mrdDataType_t t, mrdComm_t comm,
                        mrdStream_t stream) {
  return issue(comm, stream, api::make(CollKind::kAlltoAll, s, r, count, t, 0), 0, false, false);
}

mrdResult_t mrdAlltoAllv(const void* s, const size_t sendcounts[], const size_t sdispls[],
                         void* r, const size_t recvcounts[], const size_t rdispls[],
                         mrdDataType_t t, mrdComm_t comm, mrdStream_t stream) {
  CollRequest q = api::make(CollKind::kAlltoAllv, s, r, 0, t, 0);
  if (comm != nullptr && comm->valid()) {
    if (sendcounts == nullptr || sdispls == nullptr || recvcounts == nullptr || rdispls == nullptr) {
      return api::finish(comm, invalidArgument("alltoallv: a counts or displacements array is NULL"),
                         "mrdAlltoAllv");
    }
    size_t n = static_cast<size_t>(comm->nranks());
    q.sendcounts.assign(sendcounts, sendcounts + n);
    q.sdispls.assign(sdispls, sdispls + n);
    q.recvcounts.assign(recvcounts, recvcounts + n);
    q.rdispls.assign(rdispls, rdispls + n);
  }
  return issue(comm, stream, std::move(q), 0, false, false);
}

mrdResult_t mrdGather(const void* s, void* r, size_t count, mrdDataType_t t, int root,
                      mrdComm_t comm, mrdStream_t stream) {
  return issue(comm, stream, api::make(CollKind::kGather, s, r, count, t, root), 0, false, true);
}

mrdResult_t mrdScatter(const void* s, void* r, size_t count, mrdDataType_t t, int root,
                       mrdComm_t comm, mrdStream_t stream) {
  return issue(comm, stream, api::make(CollKind::kScatter, s, r, count, t, root), 0, false, true);
}

mrdResult_t mrdSend(const void* s, size_t count, mrdDataType_t t, int peer, mrdComm_t comm,
                    mrdStream_t stream) {
  return issue(comm, stream, api::make(CollKind::kSend, s, nullptr, count, t, peer), 0, false,
               true);
}

mrdResult_t mrdRecv(void* r, size_t count, mrdDataType_t t, int peer, mrdComm_t comm,
                    mrdStream_t stream) {
  return issue(comm, stream, api::make(CollKind::kRecv, nullptr, r, count, t, peer), 0, false,
               true);
}

mrdResult_t mrdBarrier(mrdComm_t comm, mrdStream_t stream) {
  return issue(comm, stream, api::make(CollKind::kBarrier, nullptr, nullptr, 0, mrdInt8, 0), 0,
               false, false);
}

mrdResult_t mrdGroupStart(void) {
  api::groupStart();
  return mrdSuccess;
}

mrdResult_t mrdGroupEnd(void) {
  return api::guarded(nullptr, "mrdGroupEnd", [] { return api::groupEnd(); });
}

}  // extern "C"
