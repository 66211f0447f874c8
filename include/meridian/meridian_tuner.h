/*
 * Meridian tuner plug-in interface, version 1.
 *
 * A tuner plug-in is a shared library that takes part in the tuner's
 * per-operation decision: which algorithm runs a collective, on how many
 * channels, with which pipelining chunk. Meridian loads it at communicator
 * init when MRD_TUNER_PLUGIN is set (see README, "Tuner plug-ins"). Plain C
 * (C99 and C++); the plug-in needs nothing from libmeridian at run time.
 *
 * What a plug-in exports
 *   One global object, `const mrdTuner_v1_t mrdTunerPlugin_v1` (use the
 *   macro MRD_TUNER_PLUGIN_SYMBOL_V1 for the name), with default
 *   visibility.
 *
 * Versions
 *   A struct of a given version never changes once released. A new version
 *   (mrdTuner_v2_t) comes with a new exported symbol (mrdTunerPlugin_v2); a
 *   plug-in may export several versions at once. Meridian looks for the
 *   newest symbol it knows.
 *
 * How a decision is made
 *   For every collective (and every send/recv) Meridian lists the
 *   algorithms that can run it and that MRD_ALGO allows, in a fixed order,
 *   and predicts each one's time with its built-in cost model. It then
 *   calls getCollInfo() with those predictions, the channels and the chunk
 *   it would use. The plug-in may change any of them; afterwards the
 *   algorithm with the lowest non-negative cost wins (ties: the earlier
 *   one in the list), and the channels and chunk it returned are used
 *   (clamped to [1, connected channels] and to at least 256 bytes).
 *
 * SAME DECISION ON EVERY RANK
 *   Every rank of a communicator calls getCollInfo() with identical inputs
 *   for the same operation. The plug-in MUST return identical outputs for
 *   identical inputs on every rank: ranks running different algorithms, or
 *   the same algorithm with different channels or chunks, wait for
 *   messages that never come and the job hangs until MRD_TIMEOUT_MS. So
 *   decide from the arguments and from data that is the same everywhere
 *   (a configuration file shared by all ranks), never from per-process
 *   measurements, timers, random numbers or the rank.
 *
 * Cost
 *   getCollInfo() runs on every operation, on the caller's critical path:
 *   it must be cheap (no I/O, no allocation, no locks held long). Do the
 *   expensive work (reading files, building tables) in init().
 *
 * Threads
 *   init() and destroy() are called once per communicator (a process may
 *   hold several, each with its own context, created and used from
 *   different threads at the same time). Calls on one context never
 *   overlap; calls on different contexts may. State shared between
 *   contexts must be protected by the plug-in.
 *
 * Errors
 *   Every call returns mrdSuccess or an error code. A failing init() makes
 *   communicator init fail; a failing getCollInfo() makes the operation
 *   fail, on every rank, with the returned code and an error naming the
 *   plug-in (log a WARN line just before returning the error: Meridian
 *   attaches it to the message). A plug-in never aborts the process.
 */
#ifndef MERIDIAN_MERIDIAN_TUNER_H_
#define MERIDIAN_MERIDIAN_TUNER_H_

#include <stddef.h>

#include "meridian.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Levels for the logger. */
typedef enum {
  MRD_TUNER_LOG_NONE = 0,
  MRD_TUNER_LOG_WARN = 1,
  MRD_TUNER_LOG_INFO = 2,
  MRD_TUNER_LOG_DEBUG = 3,
  MRD_TUNER_LOG_TRACE = 4
} mrdTunerLogLevel_t;

/* Given to init(). printf-style; file and line may be NULL/0. Thread-safe.
 * Lines go to Meridian's log (subsystem TUNE). */
typedef void (*mrdTunerLogger_t)(mrdTunerLogLevel_t level, const char* file, int line,
                                 const char* fmt, ...);

/* The operation being tuned. Send and receive are both SENDRECV; a barrier
 * runs as an allreduce of 1 byte. */
typedef enum {
  MRD_TUNER_ALLREDUCE = 0,
  MRD_TUNER_BROADCAST = 1,
  MRD_TUNER_REDUCE = 2,
  MRD_TUNER_ALLGATHER = 3,
  MRD_TUNER_REDUCESCATTER = 4,
  MRD_TUNER_ALLTOALL = 5,
  MRD_TUNER_ALLTOALLV = 6,
  MRD_TUNER_GATHER = 7,
  MRD_TUNER_SCATTER = 8,
  MRD_TUNER_SENDRECV = 9,
  MRD_TUNER_NUM_COLLS = 10 /* not a collective: the number of values above */
} mrdTunerColl_t;

typedef struct {
  /* Short lower-case name without spaces, e.g. "example"; used in logs and
   * error messages. Owned by the plug-in. */
  const char* name;

  /* Called at communicator init, on every rank, with the communicator's
   * size and its number of hosts (same values on every rank). Sets
   * *context to the plug-in's state for this communicator (may be NULL);
   * Meridian passes it back unchanged to the other calls. */
  mrdResult_t (*init)(size_t nRanks, size_t nHosts, mrdTunerLogger_t logFn, void** context);

  /* Called per operation (see "How a decision is made" above).
   *  collType   the collective.
   *  nBytes     the operation's size as nccl-tests reports it: the whole
   *             buffer for allreduce, broadcast, reduce; the whole receive
   *             buffer for allgather and gather; the whole send buffer for
   *             reducescatter, alltoall(v) and scatter; the message for
   *             send/recv.
   *  numAlgos   entries of algoNames and costUs (>= 1).
   *  algoNames  the candidates, e.g. "ring", "tree", "direct",
   *             "recursive_doubling", "rabenseifner", "chain", "pairwise",
   *             "bruck", "linear". Valid during the call only.
   *  costUs     [numAlgos], in: the built-in model's predicted
   *             microseconds (negative: no prediction; such an algorithm
   *             still runs if nothing else is available). Out: a lower
   *             cost wins; a negative cost (or NaN) removes that algorithm.
   *             If every entry ends up negative, the first one runs.
   *  nChannels  in: the built-in choice; out: the channels to use.
   *  chunkBytes in: the built-in pipelining chunk; out: the chunk to use.
   * Must be deterministic and cheap (see above). */
  mrdResult_t (*getCollInfo)(void* context, mrdTunerColl_t collType, size_t nBytes, int numAlgos,
                             const char* const* algoNames, float* costUs, int* nChannels,
                             size_t* chunkBytes);

  /* Called once when the communicator is destroyed (or its init failed
   * after init() succeeded); frees the context. */
  mrdResult_t (*destroy)(void* context);
} mrdTuner_v1_t;

/* The name of the exported v1 object: `const mrdTuner_v1_t mrdTunerPlugin_v1`. */
#define MRD_TUNER_PLUGIN_SYMBOL_V1 "mrdTunerPlugin_v1"

/* The newest version this header describes. */
typedef mrdTuner_v1_t mrdTuner_t;
#define MRD_TUNER_PLUGIN_SYMBOL MRD_TUNER_PLUGIN_SYMBOL_V1

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MERIDIAN_MERIDIAN_TUNER_H_ */
