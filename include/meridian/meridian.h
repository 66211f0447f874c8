/*
 * Meridian: a collective communication library.
 *
 * The one public header. Plain C (C99 and C++), opaque handles, every call
 * returns mrdResult_t. Names, argument order and enum values mirror NCCL's
 * with the "mrd" prefix, so code written against NCCL switches by renaming.
 *
 * Buffers are host memory. The last argument of every operation is a
 * stream: NULL means "return when the operation is complete on this rank";
 * a stream from mrdStreamCreate makes the call asynchronous (operations on
 * one stream run in issue order, on the communicator's progress engine).
 */
#ifndef MERIDIAN_MERIDIAN_H_
#define MERIDIAN_MERIDIAN_H_

#include <stddef.h>
#include <stdint.h>

#define MRD_MAJOR 0
#define MRD_MINOR 1
#define MRD_PATCH 0
#define MRD_VERSION_CODE (MRD_MAJOR * 10000 + MRD_MINOR * 100 + MRD_PATCH)

#if defined(_WIN32)
#define MRD_API
#else
#define MRD_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque handles. */
typedef struct mrdComm* mrdComm_t;
typedef struct mrdStream* mrdStream_t;

#define MRD_UNIQUE_ID_BYTES 128
typedef struct {
  char internal[MRD_UNIQUE_ID_BYTES];
} mrdUniqueId;

typedef enum {
  mrdSuccess = 0,
  mrdUnhandledDeviceError = 1,
  mrdSystemError = 2,
  mrdInternalError = 3,
  mrdInvalidArgument = 4,
  mrdInvalidUsage = 5,
  mrdRemoteError = 6,
  mrdInProgress = 7,
  mrdTimeout = 8,
  mrdNumResults = 9
} mrdResult_t;

typedef enum {
  mrdInt8 = 0,
  mrdChar = 0,
  mrdUint8 = 1,
  mrdInt32 = 2,
  mrdInt = 2,
  mrdUint32 = 3,
  mrdInt64 = 4,
  mrdUint64 = 5,
  mrdFloat16 = 6,
  mrdHalf = 6,
  mrdFloat32 = 7,
  mrdFloat = 7,
  mrdFloat64 = 8,
  mrdDouble = 8,
  mrdBfloat16 = 9,
  mrdFloat8e4m3 = 10,
  mrdFloat8e5m2 = 11,
  mrdNumTypes = 12
} mrdDataType_t;

typedef enum {
  mrdSum = 0,
  mrdProd = 1,
  mrdMax = 2,
  mrdMin = 3,
  mrdAvg = 4,
  mrdNumOps = 5,
  /* Ops created by mrdRedOpCreatePreMulSum take values from here up. */
  mrdMaxRedOp = 0x7fffffff
} mrdRedOp_t;

typedef enum {
  /* The scalar is read from host memory when the op is created. */
  mrdScalarHostImmediate = 1
} mrdScalarResidence_t;

/* ---- Configuration (growable: size, magic, version come first) ---- */
#define MRD_CONFIG_MAGIC 0x6d726463u /* "mrdc" */
#define MRD_CONFIG_UNDEF_INT (-2147483647 - 1)
#define MRD_CONFIG_UNDEF_PTR NULL

typedef struct {
  size_t size;          /* sizeof(mrdConfig_t) as the caller compiled it */
  unsigned int magic;   /* MRD_CONFIG_MAGIC */
  unsigned int version; /* MRD_VERSION_CODE the caller compiled against */
  int blocking;         /* 1 (default): init returns when ready */
  int timeoutMs;        /* per-wait timeout; overrides MRD_TIMEOUT_MS */
  int minChannels;      /* channels (parallel rings); overrides MRD_NCHANNELS */
  int maxChannels;
  const char* netName;  /* a label for logs; NULL: none */
  const char* commName; /* alias used in log lines */
  int splitShare;       /* accepted for NCCL compatibility; ignored */
} mrdConfig_t;

#define MRD_CONFIG_INITIALIZER                                                  \
  {                                                                             \
    sizeof(mrdConfig_t), MRD_CONFIG_MAGIC, MRD_VERSION_CODE,                    \
        MRD_CONFIG_UNDEF_INT, MRD_CONFIG_UNDEF_INT, MRD_CONFIG_UNDEF_INT,       \
        MRD_CONFIG_UNDEF_INT, MRD_CONFIG_UNDEF_PTR, MRD_CONFIG_UNDEF_PTR,       \
        MRD_CONFIG_UNDEF_INT                                                    \
  }

/* mrdCommSplit: color that leaves the calling rank out of every new comm. */
#define MRD_SPLIT_NOCOLOR (-1)

/* ---- Version and errors ---- */
MRD_API mrdResult_t mrdGetVersion(int* version);
MRD_API const char* mrdGetErrorString(mrdResult_t result);
/* The message of the last failed call on comm (NULL comm: of this thread).
 * Names the rank, the peer and the operation where they apply. */
MRD_API const char* mrdGetLastError(mrdComm_t comm);

/* ---- Communicator lifecycle ---- */
/* Starts a bootstrap root in this process and returns its address and a
 * fresh 128-bit secret. Pass the id to every rank (out of band). */
MRD_API mrdResult_t mrdGetUniqueId(mrdUniqueId* uniqueId);
/* Inside mrdGroupStart/mrdGroupEnd a (blocking) init returns at once and
 * the communicator is ready when mrdGroupEnd returns, so one thread can
 * create several ranks of one job. */
MRD_API mrdResult_t mrdCommInitRank(mrdComm_t* comm, int nranks, mrdUniqueId commId,
                                    int rank);
MRD_API mrdResult_t mrdCommInitRankConfig(mrdComm_t* comm, int nranks, mrdUniqueId commId,
                                          int rank, mrdConfig_t* config);
/* ndev ranks of one new job, all in this process: comms[i] is rank i.
 * devlist is accepted for NCCL compatibility and may be NULL (host
 * buffers: there is no device to pick). */
MRD_API mrdResult_t mrdCommInitAll(mrdComm_t* comms, int ndev, const int* devlist);
/* Reads rank, size and rendezvous from the environment: mrdrun's MRD_*,
 * else torchrun, Open MPI, Hydra (MPICH) or Slurm variables. */
MRD_API mrdResult_t mrdCommInitFromEnv(mrdComm_t* comm);
MRD_API mrdResult_t mrdCommSplit(mrdComm_t comm, int color, int key, mrdComm_t* newcomm,
                                 mrdConfig_t* config);
MRD_API mrdResult_t mrdCommFinalize(mrdComm_t comm);
MRD_API mrdResult_t mrdCommDestroy(mrdComm_t comm);
MRD_API mrdResult_t mrdCommAbort(mrdComm_t comm);
MRD_API mrdResult_t mrdCommCount(const mrdComm_t comm, int* count);
MRD_API mrdResult_t mrdCommUserRank(const mrdComm_t comm, int* rank);
MRD_API mrdResult_t mrdCommGetAsyncError(mrdComm_t comm, mrdResult_t* asyncError);

/* ---- Link statistics ----
 * A link is everything connecting this rank to one peer on another host:
 * one path per rail (matched NIC pair), socket and channel. Ranks on the
 * same host (shared memory) have no paths. */
typedef enum { mrdPathHealthy = 0, mrdPathDegraded = 1, mrdPathDown = 2 } mrdPathState_t;
#define MRD_PATH_STATE_CHANGES 8
typedef struct {
  int channel;
  int rail;                 /* index of the local NIC */
  char localNic[64];        /* "eth0 10.1.0.5/16" */
  char remoteNic[64];
  mrdPathState_t state;
  double rttP50Us, rttP99Us;  /* probe round trips (0: none yet) */
  double goodputBytesPerSec;  /* acknowledged bytes per busy second (EWMA) */
  uint64_t bytesSent, chunksSent, resends, bytesReceived;
  int nStateChanges;          /* the last MRD_PATH_STATE_CHANGES are listed, oldest first */
  struct {
    uint64_t timeUs;          /* CLOCK_MONOTONIC */
    mrdPathState_t from, to;
  } stateChanges[MRD_PATH_STATE_CHANGES];
} mrdPathStats_t;
/* Fills up to *n entries of stats with the paths to `peer` and sets *n to
 * how many there are (stats may be NULL to ask). Waits for the operation
 * running on the communicator, if any. */
MRD_API mrdResult_t mrdCommGetLinkStats(mrdComm_t comm, int peer, mrdPathStats_t* stats, int* n);

/* ---- Custom reduction ops ---- */
MRD_API mrdResult_t mrdRedOpCreatePreMulSum(mrdRedOp_t* op, void* scalar,
                                            mrdDataType_t datatype,
                                            mrdScalarResidence_t residence, mrdComm_t comm);
MRD_API mrdResult_t mrdRedOpDestroy(mrdRedOp_t op, mrdComm_t comm);

/* ---- Streams ---- */
MRD_API mrdResult_t mrdStreamCreate(mrdComm_t comm, mrdStream_t* stream);
/* Waits until every operation issued on the stream is complete. */
MRD_API mrdResult_t mrdStreamSynchronize(mrdStream_t stream);
/* mrdSuccess when all work is complete, mrdInProgress while some runs. */
MRD_API mrdResult_t mrdStreamQuery(mrdStream_t stream);
MRD_API mrdResult_t mrdStreamDestroy(mrdStream_t stream);

/* ---- Collective operations ---- */
MRD_API mrdResult_t mrdAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                                 mrdDataType_t datatype, mrdRedOp_t op, mrdComm_t comm,
                                 mrdStream_t stream);
MRD_API mrdResult_t mrdBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                                 mrdDataType_t datatype, int root, mrdComm_t comm,
                                 mrdStream_t stream);
MRD_API mrdResult_t mrdReduce(const void* sendbuff, void* recvbuff, size_t count,
                              mrdDataType_t datatype, mrdRedOp_t op, int root,
                              mrdComm_t comm, mrdStream_t stream);
/* sendcount elements per rank; recvbuff holds nranks * sendcount. */
MRD_API mrdResult_t mrdAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                                 mrdDataType_t datatype, mrdComm_t comm,
                                 mrdStream_t stream);
/* sendbuff holds nranks * recvcount; each rank gets recvcount reduced. */
MRD_API mrdResult_t mrdReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                                     mrdDataType_t datatype, mrdRedOp_t op, mrdComm_t comm,
                                     mrdStream_t stream);
/* count elements to and from each peer: buffers hold nranks * count. */
MRD_API mrdResult_t mrdAlltoAll(const void* sendbuff, void* recvbuff, size_t count,
                                mrdDataType_t datatype, mrdComm_t comm,
                                mrdStream_t stream);
/* Counts and displacements in elements, one per rank. */
MRD_API mrdResult_t mrdAlltoAllv(const void* sendbuff, const size_t sendcounts[],
                                 const size_t sdispls[], void* recvbuff,
                                 const size_t recvcounts[], const size_t rdispls[],
                                 mrdDataType_t datatype, mrdComm_t comm,
                                 mrdStream_t stream);
/* The root's recvbuff holds nranks * sendcount. */
MRD_API mrdResult_t mrdGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                              mrdDataType_t datatype, int root, mrdComm_t comm,
                              mrdStream_t stream);
/* The root's sendbuff holds nranks * recvcount. */
MRD_API mrdResult_t mrdScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                               mrdDataType_t datatype, int root, mrdComm_t comm,
                               mrdStream_t stream);
MRD_API mrdResult_t mrdSend(const void* sendbuff, size_t count, mrdDataType_t datatype,
                            int peer, mrdComm_t comm, mrdStream_t stream);
MRD_API mrdResult_t mrdRecv(void* recvbuff, size_t count, mrdDataType_t datatype, int peer,
                            mrdComm_t comm, mrdStream_t stream);
MRD_API mrdResult_t mrdBarrier(mrdComm_t comm, mrdStream_t stream);

/* Operations between GroupStart and GroupEnd are issued together at
 * GroupEnd (any mix; send/recv pairs do not deadlock). Groups nest. */
MRD_API mrdResult_t mrdGroupStart(void);
MRD_API mrdResult_t mrdGroupEnd(void);

#ifdef __cplusplus
}
#endif

#endif /* MERIDIAN_MERIDIAN_H_ */
