// Version, errors, communicator lifecycle and custom ops of the C API.
#include <cstring>

#include "bootstrap/root.h"
#include "config/params.h"
#include "core/api_guard.h"
#include "core/group.h"
#include "core/launch_env.h"
#include "log/log.h"

namespace mrd::api {
namespace {
thread_local std::string tlsError;
}

void setThreadError(const std::string& message) { tlsError = message; }
const char* threadError() { return tlsError.c_str(); }

mrdResult_t finish(mrdComm_t comm, const Status& st, const char* call) {
  if (st.isOk()) return mrdSuccess;
  if (st.code() == mrdInProgress) return mrdInProgress;  // not a failure
  std::string msg = st.message().empty() ? std::string(call) + " failed" : st.message();
  setThreadError(msg);
  if (comm != nullptr && comm->valid()) comm->setError(Status(st.code(), msg));
  // Messages start with the call or the operation already.
  MRD_LOG_WARN(kColl, "{} ({})", msg, mrdGetErrorString(st.code()));
  return st.code();
}

Status checkComm(mrdComm_t comm, const char* call) {
  if (comm == nullptr) return invalidArgument(std::string(call) + ": comm is NULL");
  if (!comm->valid()) return invalidArgument(std::string(call) + ": comm is not a live communicator");
  if (comm->aborted()) {
    return invalidUsage(std::string(call) + ": rank " + std::to_string(comm->rank()) +
                        ": the communicator was aborted");
  }
  if (comm->finalized()) {
    return invalidUsage(std::string(call) + ": rank " + std::to_string(comm->rank()) +
                        ": the communicator was finalized");
  }
  if (comm->asyncError() == mrdInProgress) {
    return Status(mrdInProgress, std::string(call) + ": rank " + std::to_string(comm->rank()) +
                                     ": the communicator is still initialising");
  }
  return Status::ok();
}

namespace {

Status settingsFrom(const mrdConfig_t* cfg, CommSettings* out) {
  const config::Params& p = config::processParams();
  out->timeoutMs = p.timeoutMs;
  out->nchannels = p.nchannels;
  out->nchannelsForced = p.nchannelsSet;
  if (cfg == nullptr) return Status::ok();
  if (cfg->magic != MRD_CONFIG_MAGIC || cfg->size < offsetof(mrdConfig_t, netName)) {
    return invalidArgument("config: not initialised with MRD_CONFIG_INITIALIZER (bad magic or size)");
  }
  if (cfg->timeoutMs != MRD_CONFIG_UNDEF_INT) {
    if (cfg->timeoutMs <= 0) return invalidArgument("config: timeoutMs must be > 0");
    out->timeoutMs = cfg->timeoutMs;
  }
  int maxCh = cfg->maxChannels, minCh = cfg->minChannels;
  if (maxCh != MRD_CONFIG_UNDEF_INT) {
    if (maxCh < 1 || maxCh > 16) return invalidArgument("config: maxChannels must be 1..16");
    out->nchannels = maxCh;
  }
  if (minCh != MRD_CONFIG_UNDEF_INT) {
    if (minCh < 1 || minCh > 16) return invalidArgument("config: minChannels must be 1..16");
    if (out->nchannels < minCh) out->nchannels = minCh;
    out->minChannels = minCh;
  }
  if (cfg->blocking != MRD_CONFIG_UNDEF_INT) out->blocking = cfg->blocking != 0;
  if (cfg->size >= offsetof(mrdConfig_t, splitShare) && cfg->commName != nullptr) {
    out->name = cfg->commName;
  }
  return Status::ok();
}

Status initRank(mrdComm_t* comm, int nranks, const mrdUniqueId& id, int rank,
                const mrdConfig_t* cfg) {
  if (comm == nullptr) return invalidArgument("mrdCommInitRank: comm pointer is NULL");
  *comm = nullptr;
  if (nranks < 1) return invalidArgument("mrdCommInitRank: nranks " + std::to_string(nranks) + " < 1");
  if (rank < 0 || rank >= nranks) {
    return invalidArgument("mrdCommInitRank: rank " + std::to_string(rank) +
                           " out of range [0, " + std::to_string(nranks) + ")");
  }
  CommSettings settings;
  MRD_TRY(settingsFrom(cfg, &settings));
  auto* c = new mrdComm();
  if (settings.blocking && groupOpen()) {
    c->initInBackground(id, nranks, rank, settings);
    groupAddInit(c);
    *comm = c;
    return Status::ok();
  }
  if (!settings.blocking) {
    c->initInBackground(id, nranks, rank, settings);
    *comm = c;
    return Status(mrdInProgress, "mrdCommInitRank: rank " + std::to_string(rank) +
                                     " initialising in the background; poll mrdCommGetAsyncError");
  }
  Status st = c->init(id, nranks, rank, settings);
  if (!st.isOk()) {
    c->abort();
    delete c;
    return st;
  }
  *comm = c;
  return Status::ok();
}

}  // namespace
}  // namespace mrd::api

using namespace mrd;

extern "C" {

mrdResult_t mrdGetVersion(int* version) {
  if (version == nullptr) return api::finish(nullptr, invalidArgument("mrdGetVersion: NULL"), "mrdGetVersion");
  *version = MRD_VERSION_CODE;
  return mrdSuccess;
}

const char* mrdGetErrorString(mrdResult_t r) {
  switch (r) {
    case mrdSuccess: return "no error";
    case mrdUnhandledDeviceError: return "unhandled device error";
    case mrdSystemError: return "unhandled system error (network, memory, process)";
    case mrdInternalError: return "internal error (a bug in Meridian)";
    case mrdInvalidArgument: return "invalid argument";
    case mrdInvalidUsage: return "invalid usage";
    case mrdRemoteError: return "remote process exited, aborted or had a network error";
    case mrdInProgress: return "operation in progress";
    case mrdTimeout: return "timed out";
    default: return "unknown result code";
  }
}

const char* mrdGetLastError(mrdComm_t comm) {
  if (comm != nullptr && comm->valid()) {
    static thread_local std::string copy;
    copy = comm->lastError();
    if (!copy.empty()) return copy.c_str();
  }
  return api::threadError();
}

mrdResult_t mrdGetUniqueId(mrdUniqueId* id) {
  return api::guarded(nullptr, "mrdGetUniqueId", [&] {
    if (id == nullptr) return invalidArgument("mrdGetUniqueId: id is NULL");
    return bootstrap::createUniqueId(id);
  });
}

mrdResult_t mrdCommInitRank(mrdComm_t* comm, int nranks, mrdUniqueId id, int rank) {
  return api::guarded(nullptr, "mrdCommInitRank",
                      [&] { return api::initRank(comm, nranks, id, rank, nullptr); });
}

mrdResult_t mrdCommInitRankConfig(mrdComm_t* comm, int nranks, mrdUniqueId id, int rank,
                                  mrdConfig_t* config) {
  return api::guarded(nullptr, "mrdCommInitRankConfig",
                      [&] { return api::initRank(comm, nranks, id, rank, config); });
}

mrdResult_t mrdCommInitAll(mrdComm_t* comms, int ndev, const int* devlist) {
  (void)devlist;
  return api::guarded(nullptr, "mrdCommInitAll", [&]() -> Status {
    if (comms == nullptr) return invalidArgument("mrdCommInitAll: comms is NULL");
    if (ndev < 1) return invalidArgument("mrdCommInitAll: ndev " + std::to_string(ndev) + " < 1");
    for (int i = 0; i < ndev; ++i) comms[i] = nullptr;
    mrdUniqueId id;
    MRD_TRY(bootstrap::createUniqueId(&id));
    api::groupStart();
    Status st = Status::ok();
    for (int i = 0; i < ndev && st.isOk(); ++i) st = api::initRank(&comms[i], ndev, id, i, nullptr);
    Status end = api::groupEnd();
    if (st.isOk()) st = end;
    if (!st.isOk()) {
      for (int i = 0; i < ndev; ++i) {
        if (comms[i] != nullptr) {
          comms[i]->abort();
          delete comms[i];
          comms[i] = nullptr;
        }
      }
    }
    return st.withContext("mrdCommInitAll");
  });
}

mrdResult_t mrdCommInitFromEnv(mrdComm_t* comm) {
  return api::guarded(nullptr, "mrdCommInitFromEnv", [&] {
    LaunchInfo li;
    MRD_TRY(readLaunchEnv(&li).withContext("mrdCommInitFromEnv"));
    mrdUniqueId id = li.uniqueId;
    if (!li.haveUniqueId) MRD_TRY(bootstrap::pinnedUniqueId(li.rootHost, li.rootPort, &id));
    return api::initRank(comm, li.nranks, id, li.rank, nullptr);
  });
}

mrdResult_t mrdCommSplit(mrdComm_t comm, int color, int key, mrdComm_t* newcomm,
                         mrdConfig_t* config) {
  return api::guardedComm(comm, "mrdCommSplit", [&] {
    MRD_TRY(api::checkComm(comm, "mrdCommSplit"));
    if (newcomm == nullptr) return invalidArgument("mrdCommSplit: newcomm is NULL");
    *newcomm = nullptr;
    if (color < 0 && color != MRD_SPLIT_NOCOLOR) {
      return invalidArgument("mrdCommSplit: color must be >= 0 or MRD_SPLIT_NOCOLOR");
    }
    CommSettings settings = comm->settings();
    if (config != nullptr) MRD_TRY(api::settingsFrom(config, &settings));
    Communicator* child = nullptr;
    MRD_TRY(comm->split(color, key, settings, &child));
    *newcomm = static_cast<mrdComm_t>(child);
    return Status::ok();
  });
}

mrdResult_t mrdCommFinalize(mrdComm_t comm) {
  return api::guardedComm(comm, "mrdCommFinalize", [&] {
    MRD_TRY(api::checkComm(comm, "mrdCommFinalize"));
    return comm->finalize();
  });
}

mrdResult_t mrdCommDestroy(mrdComm_t comm) {
  return api::guarded(nullptr, "mrdCommDestroy", [&] {
    if (comm == nullptr) return invalidArgument("mrdCommDestroy: comm is NULL");
    if (!comm->valid()) return invalidArgument("mrdCommDestroy: not a live communicator");
    // Stream work already issued completes first (bounded by the timeout).
    if (!comm->aborted()) (void)comm->drainStreams();
    delete comm;
    return Status::ok();
  });
}

mrdResult_t mrdCommAbort(mrdComm_t comm) {
  return api::guarded(nullptr, "mrdCommAbort", [&] {
    if (comm == nullptr) return invalidArgument("mrdCommAbort: comm is NULL");
    if (!comm->valid()) return invalidArgument("mrdCommAbort: not a live communicator");
    comm->abort();
    delete comm;
    return Status::ok();
  });
}

mrdResult_t mrdCommCount(const mrdComm_t comm, int* count) {
  return api::guarded(comm, "mrdCommCount", [&] {
    if (comm == nullptr || !comm->valid()) return invalidArgument("mrdCommCount: invalid comm");
    if (count == nullptr) return invalidArgument("mrdCommCount: count is NULL");
    *count = comm->nranks();
    return Status::ok();
  });
}

mrdResult_t mrdCommUserRank(const mrdComm_t comm, int* rank) {
  return api::guarded(comm, "mrdCommUserRank", [&] {
    if (comm == nullptr || !comm->valid()) return invalidArgument("mrdCommUserRank: invalid comm");
    if (rank == nullptr) return invalidArgument("mrdCommUserRank: rank is NULL");
    *rank = comm->rank();
    return Status::ok();
  });
}

mrdResult_t mrdCommGetAsyncError(mrdComm_t comm, mrdResult_t* asyncError) {
  return api::guarded(comm, "mrdCommGetAsyncError", [&] {
    if (comm == nullptr || !comm->valid()) return invalidArgument("mrdCommGetAsyncError: invalid comm");
    if (asyncError == nullptr) return invalidArgument("mrdCommGetAsyncError: NULL");
    *asyncError = comm->asyncError();
    return Status::ok();
  });
}

mrdResult_t mrdRedOpCreatePreMulSum(mrdRedOp_t* op, void* scalar, mrdDataType_t datatype,
                                    mrdScalarResidence_t residence, mrdComm_t comm) {
  return api::guarded(comm, "mrdRedOpCreatePreMulSum", [&] {
    MRD_TRY(api::checkComm(comm, "mrdRedOpCreatePreMulSum"));
    if (op == nullptr || scalar == nullptr) {
      return invalidArgument("mrdRedOpCreatePreMulSum: op or scalar is NULL");
    }
    if (residence != mrdScalarHostImmediate) {
      return invalidArgument("mrdRedOpCreatePreMulSum: only mrdScalarHostImmediate is supported");
    }
    double v = 0;
    switch (datatype) {
      case mrdInt8: v = *static_cast<int8_t*>(scalar); break;
      case mrdUint8: v = *static_cast<uint8_t*>(scalar); break;
      case mrdInt32: v = *static_cast<int32_t*>(scalar); break;
      case mrdUint32: v = *static_cast<uint32_t*>(scalar); break;
      case mrdInt64: v = static_cast<double>(*static_cast<int64_t*>(scalar)); break;
      case mrdUint64: v = static_cast<double>(*static_cast<uint64_t*>(scalar)); break;
      case mrdFloat16: v = halfToFloat(*static_cast<uint16_t*>(scalar)); break;
      case mrdFloat32: v = *static_cast<float*>(scalar); break;
      case mrdFloat64: v = *static_cast<double*>(scalar); break;
      case mrdBfloat16: v = bf16ToFloat(*static_cast<uint16_t*>(scalar)); break;
      case mrdFloat8e4m3: v = fp8e4m3ToFloat(*static_cast<uint8_t*>(scalar)); break;
      case mrdFloat8e5m2: v = fp8e5m2ToFloat(*static_cast<uint8_t*>(scalar)); break;
      default: return invalidArgument("mrdRedOpCreatePreMulSum: unknown datatype " + std::to_string(static_cast<int>(datatype)));
    }
    return comm->createPreMulSum(v, op);
  });
}

mrdResult_t mrdRedOpDestroy(mrdRedOp_t op, mrdComm_t comm) {
  return api::guarded(comm, "mrdRedOpDestroy", [&] {
    MRD_TRY(api::checkComm(comm, "mrdRedOpDestroy"));
    return comm->destroyOp(op);
  });
}

}  // extern "C"
