// The tuner; see tuner.h.
#include "tuner/tuner.h"

#include <algorithm>
#include <cstdint>

#include "core/datatype.h"

namespace mrd::tuner {

int cheapest(const std::vector<double>& costsUs) {
  int best = -1;
  for (size_t i = 0; i < costsUs.size(); ++i) {
    if (costsUs[i] < 0) continue;
    if (best < 0 || costsUs[i] < costsUs[static_cast<size_t>(best)]) best = static_cast<int>(i);
  }
  return best;
}

size_t chooseChunkBytes(const CostQuery& q, const TunerLimits& lim) {
  if (lim.chunkForced) return lim.chunkBytes;
  // Pipelining needs several slices per ring step: shrink the slice for
  // medium messages (down to 16 KiB), never grow it past the default.
  size_t perStep = q.bytes / static_cast<size_t>(std::max(1, q.nranks)) / 4;
  size_t s = 16 << 10;
  while (s < perStep && s < lim.chunkBytes) s *= 2;
  return std::min(s, lim.chunkBytes);
}

int chooseChannels(const CostQuery& q, const TunerLimits& lim) {
  if (lim.channelsForced) return lim.maxChannels;
  // A channel must carry at least channelMinBytes to pay for itself.
  size_t byBytes = lim.channelMinBytes == 0 ? 1 : q.bytes / lim.channelMinBytes;
  int n = static_cast<int>(std::max<size_t>(1, std::min<size_t>(lim.maxChannels, byBytes)));
  return std::min(lim.maxChannels, std::max(n, lim.minChannels));
}

size_t requestBytes(const CollRequest& req, int nranks) {
  const size_t ts = dataTypeSize(req.type), n = static_cast<size_t>(nranks);
  switch (req.kind) {
    case CollKind::kAllGather:
    case CollKind::kReduceScatter:
    case CollKind::kAlltoAll:
    case CollKind::kGather:
    case CollKind::kScatter:
      return req.count * ts * n;
    case CollKind::kAlltoAllv:
      // Each rank knows only its own counts, and every rank must decide
      // alike (the channel of each exchange, trials): no size, and the
      // channels are the communicator's (below).
      return 0;
    default:
      return req.count * ts;
  }
}

Status Tuner::init(const std::string& algoEnv, const AlgorithmRegistry* registry,
                   const TunerLimits& limits, int nranks, int nhosts, int maxLocal) {
  registry_ = registry;
  limits_ = limits;
  nranks_ = nranks;
  nhosts_ = nhosts;
  maxLocal_ = maxLocal;
  trials_.configure(limits.trials);
  MRD_TRY(parseAlgoPolicy(algoEnv, registry->names(), &policy_));
  // A per-collective clause must name algorithms that implement it.
  PlanContext ctx;
  ctx.nranks = nranks;
  ctx.nchannels = limits.maxChannels;
  ctx.sliceBytes = limits.chunkBytes;
  ctx.layout = limits.layout;
  for (size_t k = 0; k < kCollKinds; ++k) {
    const AlgoRule& rule = policy_.perColl[k];
    if (!rule.set || rule.exclude) continue;
    CollRequest probe;
    probe.kind = static_cast<CollKind>(k);
    probe.count = 1024;
    probe.type = mrdFloat32;
    probe.sendcounts.assign(static_cast<size_t>(nranks), 1024);
    probe.recvcounts = probe.sdispls = probe.rdispls = probe.sendcounts;
    for (const std::string& name : rule.names) {
      // The board takes what fits on it, wherever there is one; the rest
      // falls back (choose()).
      if (name == "board") continue;
      const Algorithm* a = registry->find(name);
      if (a != nullptr && !a->supports(probe, ctx)) {
        return invalidArgument("MRD_ALGO=\"" + algoEnv + "\": algorithm \"" + name +
                               "\" does not implement " + collName(probe.kind) + " on " +
                               std::to_string(nranks) + " ranks");
      }
    }
  }
  return Status::ok();
}

Status Tuner::choose(const CollRequest& req, const PlanContext& ctx, bool details,
                     Decision* out, bool trials) {
  out->algo = nullptr;
  out->trial = TrialTicket{};
  out->considered.clear();
  const size_t bytes = requestBytes(req, nranks_);
  CachedDecision& slot =
      cache_[(static_cast<size_t>(req.kind) * 0x9E3779B97F4A7C15ull ^ bytes * 0xC2B2AE3D27D4EB4Full) >> 58];
  // Only the trials' settled answers are cached: a cached model-only answer
  // would bypass them.
  const bool cacheable = adjuster_ == nullptr && !details && (trials || !trials_.enabled());
  const bool board = ctx.boardBytes > 0;
  if (cacheable && slot.valid && slot.kind == req.kind && slot.bytes == bytes && slot.board == board) {
    out->algo = slot.algo;
    out->nchannels = slot.nchannels;
    out->chunkBytes = slot.chunkBytes;
    out->predictedUs = slot.predictedUs;
    return Status::ok();
  }
  CostQuery q;
  q.kind = req.kind;
  q.bytes = bytes;
  q.nranks = nranks_;
  q.nhosts = nhosts_;
  q.maxLocal = maxLocal_;
  out->chunkBytes = chooseChunkBytes(q, limits_);
  out->nchannels = chooseChannels(q, limits_);
  q.chunkBytes = out->chunkBytes;
  q.channelMinBytes = limits_.channelMinBytes;

  bool strict = false;
  const AlgoRule& rule = policy_.ruleFor(req.kind, &strict);
  algos_.clear();
  supported_.clear();
  for (const auto& owned : registry_->all()) {
    const Algorithm* a = owned.get();
    if (!a->supports(req, ctx)) continue;
    supported_.push_back(a);
    if (!rule.set || rule.allows(a->name())) algos_.push_back(a);
  }
  if (algos_.empty()) {
    if (supported_.empty()) {
      return internalError(std::string("no algorithm implements ") + collName(req.kind));
    }
    const bool boardListed = !rule.exclude && std::find(rule.names.begin(), rule.names.end(), "board") != rule.names.end();
    if (strict && !boardListed) {
      return invalidUsage(std::string("MRD_ALGO allows no algorithm that can run this ") +
                          collName(req.kind) + " of " + std::to_string(q.bytes) + " bytes");
    }
    // A default clause that cannot serve this collective leaves it free;
    // so does a clause naming the board, for what does not fit on it
    // (larger inputs, a call with several collectives).
    algos_ = supported_;
  }
  costs_.clear();
  for (const Algorithm* a : algos_) costs_.push_back(predictUs(a->name(), q, machine_));
  if (adjuster_ != nullptr) {
    // assign() reuses each string's buffer: no allocation once warmed up.
    names_.resize(algos_.size());
    for (size_t i = 0; i < algos_.size(); ++i) names_[i].assign(algos_[i]->name());
    Status st =
        adjuster_->adjust(req.kind, q.bytes, names_, &costs_, &out->nchannels, &out->chunkBytes);
    if (!st.isOk()) return st.withContext(std::string("tuner plug-in ") + adjuster_->name());
    out->nchannels = std::max(1, std::min(out->nchannels, limits_.maxChannels));
    out->chunkBytes = std::max<size_t>(out->chunkBytes, 256);
  }
  int best = cheapest(costs_);
  if (best < 0) best = 0;  // nothing modelled: registry order
  bool settled = true;
  if (adjuster_ == nullptr && trials) {
    // A plug-in's choice is its own: no trials then.
    best = trials_.pick(req.kind, bytes, algos_, costs_, best, &out->trial, &settled);
  }
  out->algo = algos_[static_cast<size_t>(best)];
  out->predictedUs = costs_[static_cast<size_t>(best)];
  // Pairwise alltoallv sends step s on channel s % nchannels at both ends.
  if (req.kind == CollKind::kAlltoAllv) out->nchannels = limits_.maxChannels;
  if (adjuster_ == nullptr && settled && (trials || !trials_.enabled())) {
    slot = CachedDecision{true, req.kind, bytes, board, out->algo, out->nchannels, out->chunkBytes,
                          out->predictedUs};
  }
  if (details) {
    for (size_t i = 0; i < algos_.size(); ++i) out->considered.emplace_back(algos_[i]->name(), costs_[i]);
  }
  return Status::ok();
}

}  // namespace mrd::tuner
