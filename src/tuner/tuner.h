// The tuner: per call, picks the algorithm, the number of channels and the
// chunk size. Candidates are the registered algorithms that support the
// request and that MRD_ALGO allows; each gets a predicted time from the
// cost model (cost_model.h) fed with the link measurements taken at
// communicator init; a tuner plug-in (MRD_TUNER_PLUGIN) may then adjust
// the costs, the channels and the chunk; the cheapest wins, ties going to
// the earlier-registered algorithm. MRD_NCHANNELS and MRD_CHUNK_SIZE, when
// set, are used as given.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/algorithm.h"
#include "tuner/algo_policy.h"
#include "tuner/cost_model.h"
#include "tuner/trials.h"

namespace mrd::tuner {

// What the plug-in hook sees and may change (see meridian_tuner.h).
class CostAdjuster {
 public:
  virtual ~CostAdjuster() = default;
  virtual const char* name() const = 0;
  // costsUs[i] belongs to names[i]; a negative cost means "not available".
  virtual Status adjust(CollKind kind, size_t bytes, const std::vector<std::string>& names,
                        std::vector<double>* costsUs, int* nchannels, size_t* chunkBytes) = 0;
};

struct Decision {
  const Algorithm* algo = nullptr;
  int nchannels = 1;
  size_t chunkBytes = 0;
  double predictedUs = 0;
  // Set when this call is one of the measured trials (trials.h): the caller
  // times it and, after the last one, runs the agreement.
  TrialTicket trial;
  // Filled only when asked (logging): name and predicted us of each candidate.
  std::vector<std::pair<std::string, double>> considered;
};

struct TunerLimits {
  int maxChannels = 1;           // connected channels
  int minChannels = 1;
  bool channelsForced = false;   // MRD_NCHANNELS or the config set them
  size_t chunkBytes = 128 << 10;  // MRD_CHUNK_SIZE or its default
  bool chunkForced = false;
  size_t channelMinBytes = 64 << 10;
  // Which ranks share a host: hierarchical algorithms support a collective
  // (MRD_ALGO's per-collective check at init) only given one.
  const topo::JobLayout* layout = nullptr;
  // Measured trials of the model's best candidates (off unless enabled:
  // the communicator turns them on from MRD_AUTOTUNE).
  TrialConfig trials;
};

// The pure core of a decision, unit-tested on its own: given the candidate
// costs in registry order, the index of the winner (-1 if none is usable).
int cheapest(const std::vector<double>& costsUs);
// Chunk and channels for a message when the user forced neither.
size_t chooseChunkBytes(const CostQuery& q, const TunerLimits& lim);
int chooseChannels(const CostQuery& q, const TunerLimits& lim);
// nccl-tests' size of a request (see CostQuery::bytes).
size_t requestBytes(const CollRequest& req, int nranks);

class Tuner {
 public:
  // Validates MRD_ALGO against the registry (unknown names fail here).
  Status init(const std::string& algoEnv, const AlgorithmRegistry* registry,
              const TunerLimits& limits, int nranks, int nhosts, int maxLocal);
  void setMachine(const MachineModel& m) { machine_ = m; }
  const MachineModel& machine() const { return machine_; }
  void setAdjuster(std::unique_ptr<CostAdjuster> a) { adjuster_ = std::move(a); }
  // Not thread-safe (reuses scratch vectors): the communicator calls it
  // under its execution lock. Without `trials`, the model's choice alone
  // (for the library's own operations, such as the trials' agreement).
  Status choose(const CollRequest& req, const PlanContext& ctx, bool details, Decision* out,
                bool trials = true);
  bool trialsEnabled() const { return trials_.enabled(); }
  // The trials' bookkeeping (see trials.h), for the communicator.
  void recordTrial(const TrialTicket& t, double us) { trials_.record(t, us); }
  void trialVotes(int entry, std::vector<uint64_t>* out) const { trials_.votes(entry, out); }
  std::string settleTrial(int entry, const std::vector<uint64_t>& summed) {
    return trials_.settle(entry, summed, nranks_);
  }

 private:
  const AlgorithmRegistry* registry_ = nullptr;
  AlgoPolicy policy_;
  TunerLimits limits_;
  MachineModel machine_;
  int nranks_ = 1, nhosts_ = 1, maxLocal_ = 1;
  std::unique_ptr<CostAdjuster> adjuster_;
  Trials trials_;
  // Decisions depend only on (collective, bytes) for a communicator: the
  // last ones are kept so repeated calls skip the model (not with a
  // plug-in, which is asked every time, as NCCL asks its tuner, nor while
  // the size's trials run).
  struct CachedDecision {
    bool valid = false;
    CollKind kind = CollKind::kAllReduce;
    size_t bytes = 0;
    bool board = false;  // decided with the board available (a lone call)
    const Algorithm* algo = nullptr;
    int nchannels = 1;
    size_t chunkBytes = 0;
    double predictedUs = 0;
  };
  static constexpr size_t kCacheSize = 64;
  CachedDecision cache_[kCacheSize];
  // Per-call scratch, kept to avoid allocating on every operation.
  std::vector<std::string> names_;
  std::vector<const Algorithm*> algos_, supported_;
  std::vector<double> costs_;
};

}  // namespace mrd::tuner
