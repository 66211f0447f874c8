// The one table of MRD_* variables (name, default, description). Every
// variable is read here, once per process, into an immutable Params; nothing
// else in the library calls getenv (launch_env.cc reads the launchers'
// own variables). `mrd_info -c` style listings print kParamTable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mrd::config {

struct ParamDoc {
  const char* name;
  const char* defaultValue;
  const char* description;
};

// Every variable the library understands, documented.
const std::vector<ParamDoc>& paramTable();

struct Params {
  // Logging.
  std::string debug = "WARN";   // MRD_DEBUG
  std::string debugSubsys;      // MRD_DEBUG_SUBSYS
  std::string debugFile;        // MRD_DEBUG_FILE
  std::string topoDumpFile;     // MRD_TOPO_DUMP_FILE
  // Bootstrap.
  std::string socketIfname;     // MRD_SOCKET_IFNAME
  std::string commId;           // MRD_COMM_ID
  // Transports.
  std::string transports = "shm,tcp";  // MRD_TRANSPORTS
  bool shmDisable = false;             // MRD_SHM_DISABLE
  int64_t shmRingBytes = 1 << 20;      // MRD_SHM_RING_BYTES
  bool shmCma = false;                 // MRD_SHM_CMA
  int64_t boardBytes = 4096;           // MRD_BOARD_BYTES
  int nsocksPerPeer = 1;               // MRD_NSOCKS_PER_PEER
  int64_t sockBufBytes = 4 << 20;      // MRD_SOCKET_BUF_BYTES
  int64_t pathQueueBytes = 512 << 10;  // MRD_PATH_QUEUE_BYTES
  bool reroute = true;                 // MRD_REROUTE
  std::string netPlugin;               // MRD_NET_PLUGIN
  // Algorithms and pipelining.
  std::string algo;                    // MRD_ALGO
  int nchannels = 2;                   // MRD_NCHANNELS
  bool nchannelsSet = false;           //   given explicitly (the tuner keeps it)
  int64_t chunkBytes = 128 << 10;      // MRD_CHUNK_SIZE
  bool chunkSet = false;               //   given explicitly (the tuner keeps it)
  std::string tunerPlugin;             // MRD_TUNER_PLUGIN
  bool autotune = false;               // MRD_AUTOTUNE
  int autotuneRounds = 3;              // MRD_AUTOTUNE_ROUNDS
  int sliceSlots = 8;                  // MRD_SLICE_SLOTS
  int64_t channelMinBytes = 64 << 10;  // MRD_CHANNEL_MIN_BYTES
  // Waiting.
  int64_t timeoutMs = 300000;          // MRD_TIMEOUT_MS
  int64_t spinUs = 50;                 // MRD_SPIN_US
  int64_t hangReportMs = 60000;        // MRD_HANG_REPORT_MS (0: never)
  int hangReportSignal = 1;            // MRD_HANG_REPORT_SIGNAL
  bool checkArgs = false;              // MRD_CHECK_ARGS (core/arg_check.h)
  // Reduction kernels (core/reduce_dispatch.h); checked, and logged, at first use.
  std::string simd;                    // MRD_SIMD (empty: auto)
  // Link-quality probe (src/probe/probe_config.h).
  int64_t probeIntervalUs = 100;       // MRD_PROBE_INTERVAL_US
  int64_t probeIdleIntervalUs = 10000; // MRD_PROBE_IDLE_INTERVAL_US
  int probeDegradedRtt = 4;            // MRD_PROBE_DEGRADED_RTT
  int64_t probeDownUs = 2000;          // MRD_PROBE_DOWN_US
  int probeRecover = 5;                // MRD_PROBE_RECOVER
  int probeEwmaPct = 25;               // MRD_PROBE_EWMA_PCT
  std::string probeLog;                // MRD_PROBE_LOG
  int64_t probeLogIntervalUs = 1000;   // MRD_PROBE_LOG_INTERVAL_US
  int probeRelaySlowPct = 0;           // MRD_PROBE_RELAY_SLOW_PCT
  int probeRelayCpuPct = 75;           // MRD_PROBE_RELAY_CPU_PCT
  int64_t probePeerLostMs = 1000;      // MRD_PROBE_PEER_LOST_MS

  // Variables that were set explicitly, "NAME=value", for the INFO log.
  std::vector<std::string> explicitlySet;
};

// Parsed once (thread-safe) from the environment. Malformed values are
// logged at WARN and replaced by the default.
const Params& processParams();

}  // namespace mrd::config
