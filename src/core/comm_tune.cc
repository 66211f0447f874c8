// The communicator's tuner: which ranks share a host, a few timed ring
// shifts at init to measure each kind of link (latency and bandwidth, a
// millisecond or two in all), and the per-call decision with its INFO log.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "core/algorithm.h"
#include "core/comm.h"
#include "core/datatype.h"
#include "core/reduce.h"
#include "log/log.h"
#include "topo/topo.h"
#include "tuner/tuner_plugin.h"

namespace mrd {
namespace {

using SteadyClock = std::chrono::steady_clock;

double elapsedUs(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::micro>(SteadyClock::now() - t0).count();
}

// Measurements of one rank; negative: not measured here.
struct LinkSample {
  float alphaIntra = -1, betaIntra = -1, alphaInter = -1, betaInter = -1;
  float gamma = -1, copy = -1;
  float cores = -1;
};

double meanOfMeasured(const std::vector<LinkSample>& all, float LinkSample::*field, double fallback) {
  double sum = 0;
  int n = 0;
  for (const LinkSample& s : all) {
    if (s.*field > 0) {
      sum += s.*field;
      ++n;
    }
  }
  return n == 0 ? fallback : sum / n;
}

// MRD_TUNER_PLUGIN: every rank loads it (an init() per communicator); all
// must succeed, or ranks would decide differently and hang: a rank whose
// load failed makes every rank's init fail.
Status setupTunerPlugin(const std::string& spec, int rank, int nranks, int nhosts,
                        bootstrap::Bootstrap* bootstrap, tuner::Tuner* tuner) {
  std::unique_ptr<tuner::CostAdjuster> adjuster;
  std::string file;
  Status st = tuner::loadTunerPlugin(spec, nranks, nhosts, &adjuster, &file);
  std::vector<int32_t> loaded(static_cast<size_t>(nranks), 0);
  loaded[static_cast<size_t>(rank)] = st.isOk() ? 1 : 0;
  Status shared = bootstrap->allgather(loaded.data(), sizeof(int32_t));
  if (!st.isOk()) return st.withContext("rank " + std::to_string(rank));
  MRD_TRY(shared.withContext("tuner plug-in"));
  for (int p = 0; p < nranks; ++p) {
    if (loaded[static_cast<size_t>(p)] == 0) {
      return invalidUsage("rank " + std::to_string(rank) + ": MRD_TUNER_PLUGIN=" + spec +
                          ": rank " + std::to_string(p) +
                          " could not load the tuner plug-in (see that rank's error)");
    }
  }
  MRD_LOG_INFO(kTune, "tuner plug-in {} loaded from {}", adjuster->name(), file);
  tuner->setAdjuster(std::move(adjuster));
  return Status::ok();
}

constexpr size_t kSmallBytes = 8;
constexpr size_t kBigBytes = 256 << 10;
// The network is also timed with this: a shaper's bucket (tc tbf, a
// policer's burst, a switch buffer) may hold a whole kBigBytes message and
// pass it at the wire's speed; the time the extra bytes take is the rate.
constexpr size_t kLongBytes = 2 << 20;

}  // namespace

Status Communicator::timePingPong(int peer, bool initiator, size_t bytes, int reps,
                                  double* bestUs, double* medianUs) {
  std::vector<char> out(bytes, 1), in(bytes);
  std::vector<double> times;
  // The initiator sends `bytes` and waits for an 8-byte answer; the best of
  // several runs is what the link can do (the rest is other processes'
  // noise on a loaded machine), the median what a message usually costs.
  for (int i = 0; i < reps; ++i) {
    schedule_.clear();
    schedule_.beginOperation(mrdInt8, ReduceSpec{}, nranks_);
    if (initiator) {
      schedule_.send(peer, 0, out.data(), bytes, {});
      schedule_.recv(peer, 0, in.data(), kSmallBytes, {});
    } else {
      int got = schedule_.recv(peer, 0, in.data(), bytes, {});
      schedule_.send(peer, 0, out.data(), kSmallBytes, {got});
    }
    auto t0 = SteadyClock::now();
    MRD_TRY(executor_.run(schedule_, env_, [] { return std::string("link calibration at init"); }));
    times.push_back(elapsedUs(t0));
  }
  schedule_.clear();
  std::sort(times.begin(), times.end());
  *bestUs = times.empty() ? 0 : times.front();
  if (medianUs != nullptr) *medianUs = times.empty() ? 0 : times[times.size() / 2];
  return Status::ok();
}

// Members are paired (0-1, 2-3, ...); the first of each pair measures.
Status Communicator::measureLink(const std::vector<int>& members, bool network, float* alphaUs,
                                 float* betaUsPerByte) {
  size_t me = static_cast<size_t>(std::find(members.begin(), members.end(), rank_) - members.begin());
  if (me >= members.size()) return Status::ok();
  size_t partner = me ^ 1;
  if (partner >= members.size()) return Status::ok();  // odd one out
  const bool initiator = me % 2 == 0;
  const int peer = members[partner];
  double warm, small, smallMedian, big;
  MRD_TRY(timePingPong(peer, initiator, kSmallBytes, 1, &warm));
  // Latency: the median. With more ranks than cores a lucky round trip
  // finds both sides spinning on their own cores (0.3 us here) where the
  // collectives, all ranks busy, wait for a wake-up (2.6-5 us): the best of
  // eight flipped the tuner's choices from run to run.
  MRD_TRY(timePingPong(peer, initiator, kSmallBytes, 15, &small, &smallMedian));
  MRD_TRY(timePingPong(peer, initiator, kBigBytes, 4, &big));
  double beta = std::max(big - small, 0.01) / kBigBytes;
  if (network) {
    // The slower of the two: without a bucket the long message's extra
    // bytes go as fast as the first ones (or faster, pipelined).
    double longer = 0;
    MRD_TRY(timePingPong(peer, initiator, kLongBytes, 2, &longer));
    beta = std::max(beta, (longer - big) / static_cast<double>(kLongBytes - kBigBytes));
  }
  if (!initiator) return Status::ok();
  *alphaUs = static_cast<float>(smallMedian / 2);
  *betaUsPerByte = static_cast<float>(beta);
  return Status::ok();
}

Status Communicator::calibrate(tuner::MachineModel* out) {
  *out = tuner::MachineModel{};
  LinkSample mine;
  // One host measures its shared memory and one pair of hosts the network
  // (in turn): the links are alike across a job, the measurement stays a
  // few milliseconds however large the job, and hosts emulated on one
  // machine (namespaces) do not disturb each other's timings.
  for (const std::vector<int>& ranks : layout_.ranksOfHost) {
    if (ranks.size() < 2) continue;
    if (layout_.hostOf[static_cast<size_t>(rank_)] == layout_.hostOf[static_cast<size_t>(ranks[0])]) {
      MRD_TRY(measureLink(ranks, false, &mine.alphaIntra, &mine.betaIntra));
    }
    break;
  }
  if (layout_.nhosts > 1) {
    std::vector<int> leaders = {layout_.ranksOfHost[0].front(), layout_.ranksOfHost[1].front()};
    MRD_TRY(measureLink(leaders, true, &mine.alphaInter, &mine.betaInter));
  }
  {
    // Local reduction and copy speed on 256 KiB of floats, best of two.
    const size_t n = kBigBytes / sizeof(float);
    std::vector<float> a(n, 1.0f), b(n, 2.0f), c(n);
    double red = 1e30, cp = 1e30;
    for (int i = 0; i < 2; ++i) {
      auto t0 = SteadyClock::now();
      reduceArrays(c.data(), a.data(), b.data(), n, mrdFloat32, RedKind::kSum);
      red = std::min(red, elapsedUs(t0));
      t0 = SteadyClock::now();
      std::memcpy(a.data(), c.data(), kBigBytes);
      cp = std::min(cp, elapsedUs(t0));
    }
    mine.gamma = static_cast<float>(std::max(red, 0.01) / kBigBytes);
    mine.copy = static_cast<float>(std::max(cp, 0.01) / kBigBytes);
  }
  mine.cores = static_cast<float>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  // Everyone uses the same numbers, so every rank makes the same choices.
  std::vector<LinkSample> all(static_cast<size_t>(nranks_));
  all[static_cast<size_t>(rank_)] = mine;
  MRD_TRY(bootstrap_->allgather(all.data(), sizeof(LinkSample)).withContext("link calibration"));
  out->intra.alphaUs = meanOfMeasured(all, &LinkSample::alphaIntra, out->intra.alphaUs);
  out->intra.betaUsPerByte = meanOfMeasured(all, &LinkSample::betaIntra, out->intra.betaUsPerByte);
  out->inter.alphaUs = meanOfMeasured(all, &LinkSample::alphaInter, out->inter.alphaUs);
  out->inter.betaUsPerByte = meanOfMeasured(all, &LinkSample::betaInter, out->inter.betaUsPerByte);
  out->gammaUsPerByte = meanOfMeasured(all, &LinkSample::gamma, out->gammaUsPerByte);
  out->copyUsPerByte = meanOfMeasured(all, &LinkSample::copy, out->copyUsPerByte);
  float cores = all[0].cores;
  for (const LinkSample& s : all) cores = std::min(cores, s.cores);
  out->roundFactor = std::max(1.0, layout_.maxLocalSize() / static_cast<double>(cores) / 2.0);
  return Status::ok();
}

Status Communicator::setupTuner() {
  const config::Params& params = config::processParams();
  layout_ = topo::buildJobLayout(nranks_, [this](int a, int b) { return bootstrap_->sameHost(a, b); });
  const int maxLocal = layout_.maxLocalSize();
  // With more ranks on this host than cores, the peer a rank waits for
  // often needs its core: it yields at once rather than poll first.
  const int64_t cores = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  const size_t here = layout_.ranksOfHost[static_cast<size_t>(layout_.hostOf[static_cast<size_t>(rank_)])].size();
  env_.purePollUs = static_cast<int64_t>(here) > cores ? 0 : kPurePollUs;
  if (layout_.localRank[static_cast<size_t>(rank_)] == 0 &&
      log::get(log::Subsys::kInit).should_log(spdlog::level::info)) {
    // Reading the hardware costs tens of milliseconds: only when asked.
    std::string text = topo::describe(topo::processHostTopology(), layout_);
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      MRD_LOG_INFO(kInit, "{}", text.substr(start, end - start));
      start = end + 1;
    }
  }
  if (!params.topoDumpFile.empty()) {
    Status st = topo::dumpTopology(params.topoDumpFile, topo::processHostTopology(), layout_, rank_);
    if (!st.isOk()) MRD_LOG_WARN(kInit, "MRD_TOPO_DUMP_FILE: {}", st.message());
  }

  tuner::TunerLimits lim;
  lim.maxChannels = settings_.nchannels;
  lim.minChannels = std::min(settings_.minChannels, settings_.nchannels);
  lim.channelsForced = settings_.nchannelsForced;
  lim.chunkBytes = static_cast<size_t>(params.chunkBytes);
  lim.chunkForced = params.chunkSet;
  lim.channelMinBytes = static_cast<size_t>(params.channelMinBytes);
  lim.layout = &layout_;
  // Trials need someone to measure against: not for one rank.
  lim.trials.enabled = params.autotune && nranks_ > 1;
  lim.trials.rounds = params.autotuneRounds;
  MRD_TRY(tuner_.init(params.algo, &builtinAlgorithms(), lim, nranks_, layout_.nhosts, maxLocal));
  boardAlgo_ = builtinAlgorithms().find("board");
  if (!params.tunerPlugin.empty()) {
    MRD_TRY(setupTunerPlugin(params.tunerPlugin, rank_, nranks_, layout_.nhosts, bootstrap_.get(),
                             &tuner_));
  }
  auto t0 = SteadyClock::now();
  tuner::MachineModel machine;
  MRD_TRY(calibrate(&machine));
  tuner_.setMachine(machine);
  if (rank_ == 0) {
    MRD_LOG_INFO(kInit,
                 "layout: {} hosts, up to {} ranks per host; links measured in {:.0f} us: "
                 "intra {:.1f} us + {:.2f} GB/s, inter {:.1f} us + {:.2f} GB/s, reduce {:.1f} GB/s",
                 layout_.nhosts, maxLocal, elapsedUs(t0), machine.intra.alphaUs,
                 1e-3 / machine.intra.betaUsPerByte, machine.inter.alphaUs,
                 1e-3 / machine.inter.betaUsPerByte, 1e-3 / machine.gammaUsPerByte);
  }
  return Status::ok();
}

bool Communicator::decisionToLog(const CollRequest& req) {
  if (rank_ != 0 || !log::get(log::Subsys::kTune).should_log(spdlog::level::info)) return false;
  size_t bytes = tuner::requestBytes(req, nranks_);
  uint64_t bucket = 0;
  while ((size_t{1} << bucket) < bytes) ++bucket;
  uint64_t key = static_cast<uint64_t>(req.kind) << 8 | bucket;
  if (std::find(loggedDecisions_.begin(), loggedDecisions_.end(), key) != loggedDecisions_.end()) return false;
  loggedDecisions_.push_back(key);
  return true;
}

void Communicator::logDecision(const CollRequest& req, const tuner::Decision& d) {
  size_t bytes = tuner::requestBytes(req, nranks_);
  std::string alternatives;
  for (const auto& [name, us] : d.considered) {
    alternatives += " " + name + "=" + (us < 0 ? std::string("n/a") : std::to_string(static_cast<int64_t>(std::lround(us))));
  }
  MRD_LOG_INFO(kTune, "{} {} bytes: {} channels {} chunk {} (predicted us:{})", collName(req.kind),
               bytes, d.algo->name(), d.nchannels, d.chunkBytes, alternatives);
}

}  // namespace mrd
