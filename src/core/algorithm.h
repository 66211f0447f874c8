// The algorithm interface: an algorithm turns one CollRequest into steps of
// a Schedule for this rank. It never sees a transport; it only names peers
// and channels. Algorithms are registered by name in one explicit list
// (registerBuiltinAlgorithms); MRD_ALGO forces one, otherwise the selector
// takes the first registered algorithm that supports the request.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/schedule.h"
#include "core/status.h"

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
  // forced: an algorithm name from MRD_ALGO, or empty. A forced name that
  // cannot do this request falls back to the default choice.
  const Algorithm* select(const CollRequest& req, const PlanContext& ctx,
                          const std::string& forced) const;
  const Algorithm* find(const std::string& name) const;
  std::vector<std::string> names() const;

 private:
  std::vector<std::unique_ptr<Algorithm>> algos_;
};

// The one list of built-in algorithms.
void registerBuiltinAlgorithms(AlgorithmRegistry* registry);
const AlgorithmRegistry& builtinAlgorithms();

}  // namespace mrd
