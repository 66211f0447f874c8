/*
 * Meridian network plug-in interface, version 1.
 *
 * A network plug-in is a shared library that moves bytes between two
 * processes over some network (sockets, RDMA, a vendor fabric). Meridian
 * loads it at communicator init when MRD_NET_PLUGIN is set and uses it as a
 * transport named "net:<name>" (see README, "Network plug-ins"). Plain C
 * (C99 and C++); the plug-in needs nothing from libmeridian at run time.
 *
 * What a plug-in exports
 *   One global object, `const mrdNet_v1_t mrdNetPlugin_v1` (use the macro
 *   MRD_NET_PLUGIN_SYMBOL_V1 for the name), with default visibility.
 *
 * Versions
 *   A struct of a given version never changes once released. A new version
 *   (mrdNet_v2_t) comes with a new exported symbol (mrdNetPlugin_v2); a
 *   plug-in may export several versions at once to work with older and
 *   newer Meridians. The loader looks for the newest symbol it knows and
 *   falls back to older ones, so a plug-in built against v1 keeps working.
 *
 * Threads
 *   init() is called once per process, before anything else. Every other
 *   call may come from several threads at once, but never two at once on
 *   the same comm (listen, send or receive), its requests or its memory
 *   handles: a process can hold several communicators, each driving its own
 *   comms from its own thread. Plug-in state shared between comms must be
 *   protected by the plug-in.
 *
 * Non-blocking
 *   No call may block waiting for the network. connect() and accept()
 *   return mrdSuccess with a NULL comm while the connection is still being
 *   set up (the caller calls again later); isend()/irecv() return a NULL
 *   request when they cannot take the message now (the caller posts it
 *   again later); test() advances I/O and reports completion.
 *
 * Ordering and matching
 *   A sendComm and the recvComm accepted for it form a one-way, ordered
 *   pipe. Messages posted on a sendComm are delivered, and complete, in
 *   posting order; receives posted on a recvComm are matched in posting
 *   order: the k-th message sent is the k-th receive posted. The tag of a
 *   send and of its receive must be equal; a message larger than its
 *   receive buffer, or whose tag differs, is an error reported by test() on
 *   the receive (the plug-in may log details through the logger). Requests
 *   complete in posting order on each comm: when test() says request k is
 *   done, every earlier request of that comm is complete too (the caller
 *   still tests each to release it).
 *
 * Errors
 *   Every call returns mrdSuccess or an error code (mrdSystemError for a
 *   failed system call, mrdRemoteError when the peer closed or broke the
 *   connection, mrdInvalidArgument / mrdInvalidUsage for bad input,
 *   mrdInternalError otherwise). A plug-in never aborts the process. After
 *   an error on a comm the caller only closes it.
 */
#ifndef MERIDIAN_MERIDIAN_NET_H_
#define MERIDIAN_MERIDIAN_NET_H_

#include <stddef.h>
#include <stdint.h>

#include "meridian.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size of the opaque connection handle listen() fills in. */
#define MRD_NET_HANDLE_MAXSIZE 128

/* Memory kinds (bit flags) for ptrSupport and regMr's type. */
#define MRD_PTR_HOST 0x1

/* Levels for the logger. */
typedef enum {
  MRD_NET_LOG_NONE = 0,
  MRD_NET_LOG_WARN = 1,
  MRD_NET_LOG_INFO = 2,
  MRD_NET_LOG_DEBUG = 3,
  MRD_NET_LOG_TRACE = 4
} mrdNetLogLevel_t;

/* Given to init(). printf-style; file and line may be NULL/0. Thread-safe.
 * A WARN line just before a call returns an error is attached to the error
 * message Meridian reports, so say there what went wrong. */
typedef void (*mrdNetLogger_t)(mrdNetLogLevel_t level, const char* file, int line,
                               const char* fmt, ...);

typedef struct {
  const char* name;  /* device name for logs, e.g. "eth0"; owned by the plug-in */
  int speedMbps;     /* link speed, for logs and future tuning */
  float latencyUs;   /* one-way latency estimate; 0 if unknown */
  int maxComms;      /* most send + recv comms the device supports at once */
  int ptrSupport;    /* MRD_PTR_* flags: memory kinds isend/irecv accept */
  int maxRecvs;      /* buffers per irecv: must be 1 in v1 (grouped receives are for later) */
} mrdNetProperties_v1_t;

typedef struct {
  /* Short lower-case name without spaces, e.g. "example"; the transport is
   * then called "net:example" (MRD_TRANSPORTS selects it by that name). */
  const char* name;

  /* Called once per process before any other call. */
  mrdResult_t (*init)(mrdNetLogger_t logger);

  /* Number of devices (>= 1 when the plug-in can work at all). Meridian v1
   * uses device 0. */
  mrdResult_t (*devices)(int* ndev);

  /* Fills *props; the strings stay owned by the plug-in and valid until the
   * process exits. */
  mrdResult_t (*getProperties)(int dev, mrdNetProperties_v1_t* props);

  /* Starts listening for exactly one connection. Fills `handle`
   * (MRD_NET_HANDLE_MAXSIZE bytes, caller's memory) with what a peer needs
   * to connect; Meridian copies it to the peer as opaque bytes, so it must
   * not hold pointers meaningful only in this process. *listenComm is owned
   * by the plug-in until closeListen(). */
  mrdResult_t (*listen)(int dev, void* handle, void** listenComm);

  /* NON-BLOCKING. Connects to the listener that filled `handle` (the
   * caller's copy of the peer's handle). Returns mrdSuccess with
   * *sendComm == NULL while the connection is being set up; the caller
   * calls again with the same handle memory (the plug-in may keep progress
   * state in the handle bytes) until *sendComm is non-NULL or an error is
   * returned. A caller that gives up before that (deadline, abort) simply
   * stops calling; the plug-in should keep per-attempt state small. */
  mrdResult_t (*connect)(int dev, void* handle, void** sendComm);

  /* NON-BLOCKING. Same convention: *recvComm == NULL means "not yet, call
   * again". Yields the one connection made to this listenComm. */
  mrdResult_t (*accept)(void* listenComm, void** recvComm);

  /* Registers [data, data + size) of memory kind `type` (MRD_PTR_*) for
   * use with the comm. *mhandle may be set to NULL when the plug-in needs no
   * registration. Every buffer given to isend/irecv lies inside a region
   * registered on that comm and not yet deregistered. */
  mrdResult_t (*regMr)(void* comm, void* data, size_t size, int type, void** mhandle);
  /* Releases a registration; no request using it may be outstanding. */
  mrdResult_t (*deregMr)(void* comm, void* mhandle);

  /* Posts a send of `size` bytes (0 is valid) with `tag`. The caller keeps
   * `data` valid and unchanged until test() reports the request done.
   * *request == NULL (with mrdSuccess) means "cannot take it now": nothing
   * was posted, the caller posts the same message again later (after
   * testing earlier requests). */
  mrdResult_t (*isend)(void* sendComm, void* data, size_t size, uint64_t tag, void* mhandle,
                       void** request);

  /* Posts a receive of at most `size` bytes with `tag` into `data`. Same
   * ownership and NULL-request convention as isend. */
  mrdResult_t (*irecv)(void* recvComm, void* data, size_t size, uint64_t tag, void* mhandle,
                       void** request);

  /* Advances I/O and tells whether `request` is complete. *done = 1: the
   * request is finished and released (the caller must not use it again);
   * *size (if size != NULL) is the number of bytes sent or received.
   * *done = 0: still running. An error fails the request and its comm. */
  mrdResult_t (*test)(void* request, int* done, size_t* size);

  /* Close a comm. May be called with requests still outstanding (abort):
   * the plug-in stops all I/O on the comm, frees its requests and any
   * memory registrations still held on it; the caller uses none of them
   * afterwards. Closing makes the peer's pending and future operations on
   * the other end fail promptly rather than hang. */
  mrdResult_t (*closeSend)(void* sendComm);
  mrdResult_t (*closeRecv)(void* recvComm);
  mrdResult_t (*closeListen)(void* listenComm);
} mrdNet_v1_t;

/* The name of the exported v1 object: `const mrdNet_v1_t mrdNetPlugin_v1`. */
#define MRD_NET_PLUGIN_SYMBOL_V1 "mrdNetPlugin_v1"

/* The newest version this header describes. */
typedef mrdNet_v1_t mrdNet_t;
typedef mrdNetProperties_v1_t mrdNetProperties_t;
#define MRD_NET_PLUGIN_SYMBOL MRD_NET_PLUGIN_SYMBOL_V1

#ifdef __cplusplus
}
#endif

#endif /* MERIDIAN_MERIDIAN_NET_H_ */
