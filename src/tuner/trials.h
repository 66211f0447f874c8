// Measured refinement of the cost model's choice ("trials").
//
// The model ranks the candidates from a few numbers taken at init; where
// two algorithms come close, or where the model misjudges this machine
// (cache effects, an oversubscribed host, a noisy link), its pick can be a
// good deal slower than the best. So the first calls of each (collective,
// size) try the model's best few candidates in turn, `rounds` times each,
// and every rank times them. When the trials of a size are over, the ranks
// add up their timings in one small allreduce (Tuner's caller runs it) and
// all keep the same fastest candidate for the rest of the communicator's
// life.
//
// Every rank must see the same sequence of collectives with the same sizes
// (as collectives already require), so the trial schedule, and the call at
// which a size is settled, are the same on every rank.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/algorithm.h"

namespace mrd::tuner {

struct TrialConfig {
  bool enabled = false;
  int rounds = 3;              // timed runs of each candidate
  int maxCandidates = 4;       // the model's best this many are tried
  double withinFactor = 4.0;   // ... if predicted within this factor of the best
  size_t maxSizes = 512;       // (collective, size) pairs tried per communicator
  // The model's pick is replaced only by a candidate measured faster by
  // more than this factor: on a shared, oversubscribed host, timings of a
  // few calls are noisy, and the model is right more often than a small
  // measured difference.
  double margin = 1.15;
};

// What a call runs on behalf of the trials (entry < 0: nothing is tried).
struct TrialTicket {
  int entry = -1;
  int candidate = -1;
  bool last = false;  // the size's last trial: agree on the winner after it
};

class Trials {
 public:
  void configure(const TrialConfig& c) { cfg_ = c; }
  bool enabled() const { return cfg_.enabled; }
  // Whether this collective takes part: collectives whose size differs
  // between ranks (alltoallv) or that have one peer (send/recv) do not.
  static bool applies(CollKind kind);

  // Chooses among `algos` (registry order) with predicted costs `costsUs`
  // (negative: unusable) and the model's pick `modelBest`. Returns the
  // index to run; *ticket says whether it is a trial; *settled whether the
  // answer is final for this (kind, bytes) (the caller may cache it).
  int pick(CollKind kind, size_t bytes, const std::vector<const Algorithm*>& algos,
           const std::vector<double>& costsUs, int modelBest, TrialTicket* ticket, bool* settled);
  // This rank's time for a trial call (microseconds).
  void record(const TrialTicket& t, double us);
  // This rank's vote once a size's trials are over: per candidate its mean
  // time in nanoseconds without the slowest call when there were three or
  // more (the first call of an algorithm pays for cold caches and
  // buffers); capped, so a sum over a million ranks cannot wrap.
  void votes(int entry, std::vector<uint64_t>* out) const;
  // Settles the size from the votes summed over all ranks: the lowest sum
  // wins if it beats the model's pick (candidate 0) by the margin, ties to
  // the model's order. Returns a line for the log.
  std::string settle(int entry, const std::vector<uint64_t>& summed, int nranks);

  // The pure parts, unit-tested: which candidates are tried (indexes into
  // costsUs, best predicted first), which summed vote wins, and a rank's
  // vote from its samples.
  static std::vector<int> candidates(const std::vector<double>& costsUs, const TrialConfig& c);
  static int winner(const std::vector<uint64_t>& summed, double margin);
  static uint64_t voteNs(const std::vector<double>& samplesUs);

  static constexpr uint64_t kNoTimeNs = uint64_t{1} << 40;

 private:
  struct Entry {
    CollKind kind;
    size_t bytes;
    std::vector<const Algorithm*> cands;
    std::vector<double> predictedUs;
    std::vector<std::vector<double>> samplesUs;  // this rank's times per candidate
    int calls = 0;               // trial calls handed out
    const Algorithm* winner = nullptr;
  };
  static uint64_t key(CollKind kind, size_t bytes) {
    return static_cast<uint64_t>(kind) << 56 | (bytes & ((uint64_t{1} << 56) - 1));
  }
  static int indexOf(const std::vector<const Algorithm*>& algos, const Algorithm* a);

  TrialConfig cfg_;
  std::vector<Entry> entries_;
  std::unordered_map<uint64_t, int> byKey_;
};

}  // namespace mrd::tuner
