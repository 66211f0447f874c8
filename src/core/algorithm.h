// The algorithm interface: an algorithm turns one CollRequest into steps of
// a Schedule for this rank. It never sees a transport; it only names peers
// and channels. Algorithms are registered by name in one explicit list
// (registerBuiltinAlgorithms); the tuner (src/tuner) picks one per call
// among those that support the request and that MRD_ALGO allows.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/schedule.h"
#include "core/status.h"
#include "topo/job_layout.h"

namespace mrd {

// What an algorithm may know about the communicator.
struct PlanContext {
  int rank = 0;
  int nranks = 1;
  int nchannels = 1;        // channels available
  size_t sliceBytes = 0;    // pipelining unit
  int sliceSlots = 1;       // receive slots per channel
  size_t channelMinBytes = 0;
  ScratchPool* scratch = nullptr;
  const topo::JobLayout* layout = nullptr;  // ranks per host (hierarchical algorithms)
  // The shared-memory board's capacity (bytes per rank) for this call: 0
  // when there is no board (ranks on several hosts, MRD_BOARD_BYTES=0) or
  // the call is one of several in a group (core/local_board.h).
  size_t boardBytes = 0;
};

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  virtual const char* name() const = 0;
  virtual bool supports(const CollRequest& req, const PlanContext& ctx) const = 0;
  // Appends this rank's steps for req to *out (which may already hold the
  // steps of earlier operations of a group).
  virtual Status build(const CollRequest& req, const PlanContext& ctx, Schedule* out) const = 0;
};

class AlgorithmRegistry {
 public:
  void add(std::unique_ptr<Algorithm> a) { algos_.push_back(std::move(a)); }
  const Algorithm* find(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::vector<std::unique_ptr<Algorithm>>& all() const { return algos_; }

 private:
  std::vector<std::unique_ptr<Algorithm>> algos_;
};

// The one list of built-in algorithms.
void registerBuiltinAlgorithms(AlgorithmRegistry* registry);
const AlgorithmRegistry& builtinAlgorithms();

}  // namespace mrd
