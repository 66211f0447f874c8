#include "config/params.h"

#include <cerrno>
#include <cstdlib>
#include <mutex>

namespace mrd::config {

const std::vector<ParamDoc>& paramTable() {
  static const std::vector<ParamDoc> table = {
      {"MRD_DEBUG", "WARN", "Log level: WARN, INFO, DEBUG or TRACE (TRACE needs a Debug build)."},
      {"MRD_DEBUG_SUBSYS", "ALL",
       "Comma list of subsystems to log: INIT,BOOTSTRAP,NET,SHM,COLL,TUNE,PROBE or ALL; ^X excludes."},
      {"MRD_DEBUG_FILE", "(stderr)", "Write the log to this file; %h is the host, %p the pid."},
      {"MRD_TOPO_DUMP_FILE", "",
       "Write each rank's host and job topology as JSON here; %h host, %p pid, %r rank."},
      {"MRD_SOCKET_IFNAME", "(auto)",
       "Interface(s) for bootstrap and TCP, e.g. eth0 or ^docker (prefix match; ^ excludes)."},
      {"MRD_COMM_ID", "", "host:port of the bootstrap root, as NCCL_COMM_ID."},
      {"MRD_TRANSPORTS", "shm,tcp", "Transports that may be used, in order of preference."},
      {"MRD_SHM_DISABLE", "0", "1 disables the shared-memory transport."},
      {"MRD_SHM_RING_BYTES", "1048576", "Bytes of each shared-memory ring (per peer, channel)."},
      {"MRD_SHM_CMA", "0",
       "1: large shm messages are read straight from the sender (process_vm_readv), one copy."},
      {"MRD_BOARD_BYTES", "4096",
       "Largest input (bytes per rank) of a collective that runs through the shared-memory board when every rank is on one host; 0: never (0-1048576)."},
      {"MRD_NSOCKS_PER_PEER", "1", "TCP sockets per peer and channel (1-16)."},
      {"MRD_SOCKET_BUF_BYTES", "4194304", "SO_SNDBUF/SO_RCVBUF of TCP data sockets."},
      {"MRD_PATH_QUEUE_BYTES", "524288",
       "Unacknowledged bytes a TCP link keeps on each path; more chunks wait for room (64 KiB-64 MiB)."},
      {"MRD_REROUTE", "1",
       "1: each chunk takes the path (rail) that delivers it soonest, re-sent elsewhere if its path fails; 0: static striping."},
      {"MRD_NET_PLUGIN", "",
       "Network plug-in to load: a path, or NAME for libmeridian-net-NAME.so (then NAME as given)."},
      {"MRD_ALGO", "(tuned)", "Algorithms the tuner may pick, NCCL 2.24 syntax: ring | ring,tree | ^tree | ring;allreduce:tree,ring;alltoall:bruck. Unknown names fail init."},
      {"MRD_NCHANNELS", "2", "Parallel channels (rings) per collective (1-16)."},
      {"MRD_CHUNK_SIZE", "(tuned, <= 131072)", "Pipelining unit: algorithms move their chunks in slices of this size."},
      {"MRD_TUNER_PLUGIN", "",
       "Tuner plug-in to load: a path, or NAME for libmeridian-tuner-NAME.so (then NAME as given)."},
      {"MRD_AUTOTUNE", "0",
       "1: the first calls of each collective and size time the model's best few algorithms and keep the fastest; 0: the model alone."},
      {"MRD_AUTOTUNE_ROUNDS", "3", "Timed runs of each candidate algorithm per collective and size (1-100)."},
      {"MRD_SLICE_SLOTS", "8", "Receive slots per channel: how many slices may be in flight."},
      {"MRD_CHANNEL_MIN_BYTES", "65536",
       "Smallest share of a buffer worth giving a channel of its own."},
      {"MRD_TIMEOUT_MS", "300000", "Longest wait without progress before an operation fails."},
      {"MRD_SPIN_US", "50", "Microseconds a waiting rank polls (yielding) before it sleeps."},
      {"MRD_HANG_REPORT_MS", "60000",
       "An operation waiting this long without progress logs a hang report (what it waits on), again after each further period; 0: never."},
      {"MRD_HANG_REPORT_SIGNAL", "1",
       "1: SIGUSR1 makes every rank log a hang report (only when the application left SIGUSR1 at its default); 0: SIGUSR1 is left alone."},
      {"MRD_CHECK_ARGS", "0",
       "1: before each call holding a collective the ranks compare (collective, count, datatype, op, root); a difference fails it with mrdInvalidUsage on every rank."},
      {"MRD_HANG_REPORT_FD", "(set by mrdrun)",
       "A pipe the rank also writes its hang report lines to, prefixed by MRD_RANK (mrdrun's summary)."},
      {"MRD_SIMD", "auto",
       "SIMD level of the reduction kernels: auto (the best the CPU has), avx512, avx2 or none; more than the CPU has warns and uses auto."},
      {"MRD_PROBE_INTERVAL_US", "100",
       "Probe (ping) interval per path while the link is busy, and for a down path."},
      {"MRD_PROBE_IDLE_INTERVAL_US", "10000",
       "Probe interval per path once the link has been idle for a while."},
      {"MRD_PROBE_DEGRADED_RTT", "4",
       "An RTT above this many times the path's baseline (minimum of the last seconds, at least 20 us) is bad; 3 bad in a row: degraded."},
      {"MRD_PROBE_DOWN_US", "2000",
       "A path with data or a probe outstanding and no progress for this long is down (a socket error: at once)."},
      {"MRD_PROBE_RECOVER", "5",
       "Good probes in a row a down path needs to become degraded, and a degraded one (below 0.75x the threshold) to become healthy."},
      {"MRD_PROBE_EWMA_PCT", "25",
       "Weight of a new sample in the RTT and goodput averages, percent (1-100)."},
      {"MRD_PROBE_LOG", "",
       "Write probe samples and path state changes as JSON lines here; %h host, %p pid, %r rank."},
      {"MRD_PROBE_LOG_INTERVAL_US", "1000",
       "At most one sample line per path per this interval in MRD_PROBE_LOG (state changes always)."},
      {"MRD_PROBE_RELAY_SLOW_PCT", "0",
       "With ranks on 3+ hosts: a link whose paths all carry less than this percentage of its share of what it carried lately (or of another link) also sends through a third host, each chunk on the lane that delivers it soonest (0-90, e.g. 25; 0: relay only when every path is cut)."},
      {"MRD_PROBE_RELAY_CPU_PCT", "75",
       "With MRD_PROBE_RELAY_SLOW_PCT set: a slow link does not open its relay lane if this machine's tasks waited for a CPU at least this percentage of the time it looked slow (Linux PSI of the process's cgroup, else /proc/pressure/cpu: short of CPU, not of network; 1-100; 100: never held back; without PSI nothing is held back)."},
      {"MRD_PROBE_PEER_LOST_MS", "1000",
       "A TCP link that waits on its peer and hears nothing from the peer's kernel on any path (TCP_INFO; a small frame keeps a question outstanding) and no relayed ack for this long fails with mrdRemoteError naming the peer: its host, or every network path to it, is gone (0: never; then MRD_TIMEOUT_MS)."},
  };
  return table;
}

namespace {

std::string envString(const char* name, std::vector<std::string>* set) {
  const char* v = std::getenv(name);
  if (v == nullptr) return {};
  set->push_back(std::string(name) + "=" + v);
  return v;
}

// Integers accept k/m/g suffixes (binary). Out-of-range or malformed values
// keep the default: the library must not fail to start over a typo, and the
// parsed value is echoed in the INFO log.
int64_t envInt(const char* name, int64_t def, int64_t lo, int64_t hi,
               std::vector<std::string>* set) {
  std::string s = envString(name, set);
  if (s.empty()) return def;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str()) return def;
  switch (*end) {
    case 'k': case 'K': v <<= 10; ++end; break;
    case 'm': case 'M': v <<= 20; ++end; break;
    case 'g': case 'G': v <<= 30; ++end; break;
    default: break;
  }
  if (*end != '\0' || v < lo || v > hi) return def;
  return v;
}

Params readParams() {
  Params p;
  auto* set = &p.explicitlySet;
  if (auto s = envString("MRD_DEBUG", set); !s.empty()) p.debug = s;
  p.debugSubsys = envString("MRD_DEBUG_SUBSYS", set);
  p.debugFile = envString("MRD_DEBUG_FILE", set);
  p.topoDumpFile = envString("MRD_TOPO_DUMP_FILE", set);
  p.socketIfname = envString("MRD_SOCKET_IFNAME", set);
  p.commId = envString("MRD_COMM_ID", set);
  if (auto s = envString("MRD_TRANSPORTS", set); !s.empty()) p.transports = s;
  p.shmDisable = envInt("MRD_SHM_DISABLE", 0, 0, 1, set) != 0;
  p.shmRingBytes = envInt("MRD_SHM_RING_BYTES", p.shmRingBytes, 4096, 1LL << 30, set);
  p.shmCma = envInt("MRD_SHM_CMA", 0, 0, 1, set) != 0;
  p.boardBytes = envInt("MRD_BOARD_BYTES", p.boardBytes, 0, 1 << 20, set);
  p.nsocksPerPeer = static_cast<int>(envInt("MRD_NSOCKS_PER_PEER", 1, 1, 16, set));
  p.sockBufBytes = envInt("MRD_SOCKET_BUF_BYTES", p.sockBufBytes, 0, 1LL << 30, set);
  p.pathQueueBytes = envInt("MRD_PATH_QUEUE_BYTES", p.pathQueueBytes, 64 << 10, 64LL << 20, set);
  p.reroute = envInt("MRD_REROUTE", 1, 0, 1, set) != 0;
  p.netPlugin = envString("MRD_NET_PLUGIN", set);
  p.algo = envString("MRD_ALGO", set);
  p.nchannels = static_cast<int>(envInt("MRD_NCHANNELS", p.nchannels, 1, 16, set));
  p.nchannelsSet = std::getenv("MRD_NCHANNELS") != nullptr;
  p.chunkBytes = envInt("MRD_CHUNK_SIZE", p.chunkBytes, 256, 1LL << 30, set);
  p.chunkSet = std::getenv("MRD_CHUNK_SIZE") != nullptr;
  p.tunerPlugin = envString("MRD_TUNER_PLUGIN", set);
  p.autotune = envInt("MRD_AUTOTUNE", 0, 0, 1, set) != 0;
  p.autotuneRounds = static_cast<int>(envInt("MRD_AUTOTUNE_ROUNDS", p.autotuneRounds, 1, 100, set));
  p.sliceSlots = static_cast<int>(envInt("MRD_SLICE_SLOTS", p.sliceSlots, 1, 1024, set));
  p.channelMinBytes = envInt("MRD_CHANNEL_MIN_BYTES", p.channelMinBytes, 1, 1LL << 40, set);
  p.timeoutMs = envInt("MRD_TIMEOUT_MS", p.timeoutMs, 1, 2147483647, set);
  p.spinUs = envInt("MRD_SPIN_US", p.spinUs, 0, 1000000, set);
  p.hangReportMs = envInt("MRD_HANG_REPORT_MS", p.hangReportMs, 0, 2147483647, set);
  p.hangReportSignal = static_cast<int>(envInt("MRD_HANG_REPORT_SIGNAL", p.hangReportSignal, 0, 1, set));
  p.checkArgs = envInt("MRD_CHECK_ARGS", 0, 0, 1, set) != 0;
  p.simd = envString("MRD_SIMD", set);
  p.probeIntervalUs = envInt("MRD_PROBE_INTERVAL_US", p.probeIntervalUs, 1, 10000000, set);
  p.probeIdleIntervalUs =
      envInt("MRD_PROBE_IDLE_INTERVAL_US", p.probeIdleIntervalUs, 1, 100000000, set);
  p.probeDegradedRtt =
      static_cast<int>(envInt("MRD_PROBE_DEGRADED_RTT", p.probeDegradedRtt, 2, 1000, set));
  p.probeDownUs = envInt("MRD_PROBE_DOWN_US", p.probeDownUs, 1, 600000000, set);
  p.probeRecover = static_cast<int>(envInt("MRD_PROBE_RECOVER", p.probeRecover, 1, 1000, set));
  p.probeEwmaPct = static_cast<int>(envInt("MRD_PROBE_EWMA_PCT", p.probeEwmaPct, 1, 100, set));
  p.probeLog = envString("MRD_PROBE_LOG", set);
  p.probeLogIntervalUs =
      envInt("MRD_PROBE_LOG_INTERVAL_US", p.probeLogIntervalUs, 0, 600000000, set);
  p.probeRelaySlowPct =
      static_cast<int>(envInt("MRD_PROBE_RELAY_SLOW_PCT", p.probeRelaySlowPct, 0, 90, set));
  p.probePeerLostMs = envInt("MRD_PROBE_PEER_LOST_MS", p.probePeerLostMs, 0, 2147483647, set);
  p.probeRelayCpuPct =
      static_cast<int>(envInt("MRD_PROBE_RELAY_CPU_PCT", p.probeRelayCpuPct, 1, 100, set));
  return p;
}

}  // namespace

const Params& processParams() {
  static const Params params = readParams();
  return params;
}

}  // namespace mrd::config
