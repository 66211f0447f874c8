// Logging: one spdlog logger per subsystem, levels from MRD_DEBUG and
// MRD_DEBUG_SUBSYS, every line prefixed host:pid:rank. The rank comes from
// a thread-local (the communicator the thread is working for), because
// thread-per-rank tests run many communicators in one process.
#pragma once

#include <string>

#include <spdlog/spdlog.h>

namespace mrd::log {

enum class Subsys { kInit, kBootstrap, kNet, kShm, kColl, kTune, kProbe, kCount };

// Returns the logger of a subsystem; configured once per process from the
// environment (see config/params.cc for the variables).
spdlog::logger& get(Subsys s);

// Replaces %h by the host name and %p by the pid in a file name pattern
// (MRD_DEBUG_FILE, MRD_TOPO_DUMP_FILE).
std::string expandPath(std::string path);

// The rank printed in log lines written by this thread (-1: none).
void setThreadRank(int rank);
int threadRank();

class ScopedRank {
 public:
  explicit ScopedRank(int rank) : saved_(threadRank()) { setThreadRank(rank); }
  ~ScopedRank() { setThreadRank(saved_); }
  ScopedRank(const ScopedRank&) = delete;
  ScopedRank& operator=(const ScopedRank&) = delete;

 private:
  int saved_;
};

}  // namespace mrd::log

#define MRD_LOG_INFO(sub, ...) ::mrd::log::get(::mrd::log::Subsys::sub).info(__VA_ARGS__)
#define MRD_LOG_WARN(sub, ...) ::mrd::log::get(::mrd::log::Subsys::sub).warn(__VA_ARGS__)
#define MRD_LOG_DEBUG(sub, ...) ::mrd::log::get(::mrd::log::Subsys::sub).debug(__VA_ARGS__)
#ifdef NDEBUG
#define MRD_LOG_TRACE(sub, ...) \
  do {                          \
  } while (0)
#else
#define MRD_LOG_TRACE(sub, ...) ::mrd::log::get(::mrd::log::Subsys::sub).trace(__VA_ARGS__)
#endif
