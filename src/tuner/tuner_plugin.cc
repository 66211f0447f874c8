#include "tuner/tuner_plugin.h"

#include <cmath>
#include <cstdarg>
#include <map>
#include <mutex>

#include "log/log.h"
#include "plugin/plugin_lib.h"

namespace mrd::tuner {
namespace {

// The last WARN line the plug-in logged on this thread: the detail of an
// error its next return carries.
thread_local std::string tlsLastWarning;

std::string takeWarning() {
  std::string w;
  w.swap(tlsLastWarning);
  return w;
}

void tunerLogger(mrdTunerLogLevel_t level, const char* file, int line, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  plugin::logPluginLine(log::Subsys::kTune, "tuner plug-in", static_cast<int>(level), file, line,
                        fmt, ap, &tlsLastWarning);
  va_end(ap);
}

std::string callError(const std::string& what, mrdResult_t rc) {
  std::string m = what + " returned " + std::to_string(static_cast<int>(rc)) + " (" +
                  mrdGetErrorString(rc) + ")";
  std::string w = takeWarning();
  if (!w.empty()) m += ": " + w;
  return m;
}

// The plug-in's own error code where it is one an operation may fail with;
// otherwise (mrdInProgress, out of range) mrdInternalError.
mrdResult_t pluginCode(mrdResult_t rc) {
  return rc > mrdSuccess && rc < mrdNumResults && rc != mrdInProgress ? rc : mrdInternalError;
}

const char* missingEntry(const mrdTuner_v1_t& t) {
  if (t.name == nullptr) return "name";
  if (t.init == nullptr) return "init";
  if (t.getCollInfo == nullptr) return "getCollInfo";
  if (t.destroy == nullptr) return "destroy";
  return nullptr;
}

struct Opened {
  Status status;
  const mrdTuner_v1_t* table = nullptr;
  std::string file;
};

std::mutex gMu;
std::map<std::string, Opened> gBySpec;  // MRD_TUNER_PLUGIN value

Status open(const std::string& spec, Opened* o) {
  if (spec.empty()) return invalidArgument("MRD_TUNER_PLUGIN is empty");
  const plugin::PluginRef ref{"MRD_TUNER_PLUGIN", spec, "tuner"};
  void* dl = nullptr;
  MRD_TRY(plugin::openLibrary(ref, tunerPluginCandidates(spec), &dl, &o->file));
  void* sym = nullptr;
  MRD_TRY(plugin::findTable(ref, dl, o->file, MRD_TUNER_PLUGIN_SYMBOL_V1, &sym));
  const auto* t = static_cast<const mrdTuner_v1_t*>(sym);
  const std::string who = "MRD_TUNER_PLUGIN=" + spec + ": tuner plug-in " + o->file;
  if (const char* miss = missingEntry(*t)) {
    return invalidUsage(who + ": " MRD_TUNER_PLUGIN_SYMBOL_V1 "." + miss + " is NULL");
  }
  std::string name = t->name;
  if (name.empty() || name.find_first_of(" \t\n") != std::string::npos) {
    return invalidUsage(who + ": name '" + name + "' must be non-empty, without spaces");
  }
  o->table = t;  // the library stays loaded: contexts may outlive this call
  return Status::ok();
}

// One communicator's context, seen by the Tuner as its cost adjuster.
class PluginAdjuster final : public CostAdjuster {
 public:
  PluginAdjuster(const mrdTuner_v1_t* t, void* context) : t_(t), context_(context) {}
  ~PluginAdjuster() override {
    mrdResult_t rc = t_->destroy(context_);
    if (rc != mrdSuccess) {
      MRD_LOG_WARN(kTune, "tuner plug-in {}: {}", t_->name, callError("destroy()", rc));
    }
  }
  PluginAdjuster(const PluginAdjuster&) = delete;
  PluginAdjuster& operator=(const PluginAdjuster&) = delete;

  const char* name() const override { return t_->name; }

  // Per operation: the scratch vectors only grow (to the most candidates
  // seen), so a steady stream of operations allocates nothing here.
  Status adjust(CollKind kind, size_t bytes, const std::vector<std::string>& names,
                std::vector<double>* costsUs, int* nchannels, size_t* chunkBytes) override {
    const size_t n = names.size();
    names_.resize(n);
    given_.resize(n);
    costs_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      names_[i] = names[i].c_str();
      given_[i] = costs_[i] = static_cast<float>((*costsUs)[i]);
    }
    int nch = *nchannels;
    size_t chunk = *chunkBytes;
    tlsLastWarning.clear();
    const mrdTunerColl_t coll = tunerCollOf(kind);
    mrdResult_t rc = t_->getCollInfo(context_, coll, bytes, static_cast<int>(n), names_.data(),
                                     costs_.data(), &nch, &chunk);
    if (rc != mrdSuccess) {
      return Status(pluginCode(rc), callError(std::string("getCollInfo(") + collName(kind) + ", " +
                                                  std::to_string(bytes) + " bytes)",
                                              rc));
    }
    for (size_t i = 0; i < n; ++i) {
      // An entry left alone keeps the model's full precision (ties and
      // near-ties then break exactly as without a plug-in).
      if (std::isnan(costs_[i])) {
        (*costsUs)[i] = -1;
      } else if (costs_[i] != given_[i]) {
        (*costsUs)[i] = costs_[i];
      }
    }
    *nchannels = nch;
    *chunkBytes = chunk;
    return Status::ok();
  }

 private:
  const mrdTuner_v1_t* t_;
  void* context_;
  std::vector<const char*> names_;
  std::vector<float> given_, costs_;
};

}  // namespace

std::vector<std::string> tunerPluginCandidates(const std::string& spec) {
  return plugin::libraryCandidates(spec, "libmeridian-tuner-");
}

Status openTunerPlugin(const std::string& spec, const mrdTuner_v1_t** table, std::string* file) {
  *table = nullptr;
  std::lock_guard<std::mutex> g(gMu);
  auto it = gBySpec.find(spec);
  if (it == gBySpec.end()) {
    Opened o;
    o.status = open(spec, &o);
    it = gBySpec.emplace(spec, std::move(o)).first;
  }
  if (it->second.status.isOk()) {
    *table = it->second.table;
    *file = it->second.file;
  }
  return it->second.status;
}

Status loadTunerPlugin(const std::string& spec, int nranks, int nhosts,
                       std::unique_ptr<CostAdjuster>* out, std::string* file) {
  out->reset();
  const mrdTuner_v1_t* t = nullptr;
  std::string f;
  MRD_TRY(openTunerPlugin(spec, &t, &f));
  void* context = nullptr;
  takeWarning();
  mrdResult_t rc = t->init(static_cast<size_t>(nranks), static_cast<size_t>(nhosts), tunerLogger,
                           &context);
  if (rc != mrdSuccess) {
    return Status(pluginCode(rc), "MRD_TUNER_PLUGIN=" + spec + ": tuner plug-in " + f + ": " +
                                      callError("init()", rc));
  }
  *out = std::make_unique<PluginAdjuster>(t, context);
  if (file != nullptr) *file = f;
  return Status::ok();
}

mrdTunerColl_t tunerCollOf(CollKind kind) {
  switch (kind) {
    case CollKind::kAllReduce:
    case CollKind::kBarrier:  // run as a one-byte allreduce
      return MRD_TUNER_ALLREDUCE;
    case CollKind::kBroadcast:
      return MRD_TUNER_BROADCAST;
    case CollKind::kReduce:
      return MRD_TUNER_REDUCE;
    case CollKind::kAllGather:
      return MRD_TUNER_ALLGATHER;
    case CollKind::kReduceScatter:
      return MRD_TUNER_REDUCESCATTER;
    case CollKind::kAlltoAll:
      return MRD_TUNER_ALLTOALL;
    case CollKind::kAlltoAllv:
      return MRD_TUNER_ALLTOALLV;
    case CollKind::kGather:
      return MRD_TUNER_GATHER;
    case CollKind::kScatter:
      return MRD_TUNER_SCATTER;
    case CollKind::kSend:
    case CollKind::kRecv:
      break;
  }
  return MRD_TUNER_SENDRECV;
}

}  // namespace mrd::tuner
