#include "plugin/net_plugin_loader.h"

#include <dlfcn.h>

#include <cstdarg>
#include <map>
#include <memory>
#include <mutex>

#include "log/log.h"
#include "plugin/plugin_lib.h"

namespace mrd::transport::plugin {
namespace {

thread_local std::string tlsLastWarning;

void pluginLogger(mrdNetLogLevel_t level, const char* file, int line, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  mrd::plugin::logPluginLine(log::Subsys::kNet, "net plug-in", static_cast<int>(level), file, line,
                             fmt, ap, &tlsLastWarning);
  va_end(ap);
}

struct Entry {
  Status status;
  LoadedNetPlugin plugin;
};

std::mutex gMu;
std::map<std::string, std::unique_ptr<Entry>> gBySpec;  // MRD_NET_PLUGIN value
std::map<void*, const Entry*> gByHandle;                // dlopen handle: init once

// Every v1 entry point must be there; returns the first one missing.
const char* missingEntry(const mrdNet_v1_t& n) {
#define MRD_CHECK_ENTRY(f) \
  if (n.f == nullptr) return #f
  MRD_CHECK_ENTRY(name);
  MRD_CHECK_ENTRY(init);
  MRD_CHECK_ENTRY(devices);
  MRD_CHECK_ENTRY(getProperties);
  MRD_CHECK_ENTRY(listen);
  MRD_CHECK_ENTRY(connect);
  MRD_CHECK_ENTRY(accept);
  MRD_CHECK_ENTRY(regMr);
  MRD_CHECK_ENTRY(deregMr);
  MRD_CHECK_ENTRY(isend);
  MRD_CHECK_ENTRY(irecv);
  MRD_CHECK_ENTRY(test);
  MRD_CHECK_ENTRY(closeSend);
  MRD_CHECK_ENTRY(closeRecv);
  MRD_CHECK_ENTRY(closeListen);
#undef MRD_CHECK_ENTRY
  return nullptr;
}

std::string callError(const std::string& what, mrdResult_t rc) {
  std::string m = what + " returned " + std::to_string(static_cast<int>(rc)) + " (" +
                  mrdGetErrorString(rc) + ")";
  std::string w = takePluginWarning();
  if (!w.empty()) m += ": " + w;
  return m;
}

Status initialise(void* dl, const std::string& file, const mrdNet_v1_t* net, LoadedNetPlugin* out) {
  const std::string who = "net plug-in " + file;
  if (const char* miss = missingEntry(*net)) {
    return invalidUsage(who + ": " MRD_NET_PLUGIN_SYMBOL_V1 "." + miss + " is NULL");
  }
  std::string name = net->name;
  if (name.empty() || name.find_first_of(" ,\t\n") != std::string::npos) {
    return invalidUsage(who + ": name '" + name + "' must be non-empty, without spaces or commas");
  }
  (void)dl;
  takePluginWarning();
  mrdResult_t rc = net->init(pluginLogger);
  if (rc != mrdSuccess) return systemError(who + ": " + callError("init()", rc));
  int ndev = 0;
  rc = net->devices(&ndev);
  if (rc != mrdSuccess) return systemError(who + ": " + callError("devices()", rc));
  if (ndev < 1) return systemError(who + ": devices() found no device");
  mrdNetProperties_v1_t props{};
  rc = net->getProperties(0, &props);
  if (rc != mrdSuccess) return systemError(who + ": " + callError("getProperties(0)", rc));
  if ((props.ptrSupport & MRD_PTR_HOST) == 0) {
    return invalidUsage(who + ": device 0 does not support host memory (ptrSupport " +
                        std::to_string(props.ptrSupport) + ")");
  }
  out->net = net;
  out->file = file;
  out->ndev = ndev;
  out->props = props;
  MRD_LOG_INFO(kNet, "net plug-in '{}' loaded from {}: {} device(s), device 0 {} ({} Mbps)", name,
               file, ndev, props.name != nullptr ? props.name : "?", props.speedMbps);
  return Status::ok();
}

}  // namespace

std::string takePluginWarning() {
  std::string w;
  w.swap(tlsLastWarning);
  return w;
}

std::vector<std::string> netPluginCandidates(const std::string& spec) {
  return mrd::plugin::libraryCandidates(spec, "libmeridian-net-");
}

Status loadNetPlugin(const std::string& spec, const LoadedNetPlugin** out) {
  *out = nullptr;
  std::lock_guard<std::mutex> g(gMu);
  auto it = gBySpec.find(spec);
  if (it != gBySpec.end()) {
    if (it->second->status.isOk()) *out = &it->second->plugin;
    return it->second->status;
  }
  auto entry = std::make_unique<Entry>();
  Entry* e = entry.get();
  gBySpec.emplace(spec, std::move(entry));
  if (spec.empty()) {
    e->status = invalidArgument("MRD_NET_PLUGIN is empty");
    return e->status;
  }
  const mrd::plugin::PluginRef ref{"MRD_NET_PLUGIN", spec, "net"};
  void* dl = nullptr;
  std::string file;
  e->status = mrd::plugin::openLibrary(ref, netPluginCandidates(spec), &dl, &file);
  if (!e->status.isOk()) return e->status;
  auto known = gByHandle.find(dl);
  if (known != gByHandle.end()) {  // the same library under another name
    e->status = known->second->status;
    e->plugin = known->second->plugin;
    if (e->status.isOk()) *out = &e->plugin;
    dlclose(dl);  // drops the extra reference only
    return e->status;
  }
  // The newest table this Meridian knows first; older ones would follow here.
  void* sym = nullptr;
  e->status = mrd::plugin::findTable(ref, dl, file, MRD_NET_PLUGIN_SYMBOL_V1, &sym);
  if (!e->status.isOk()) return e->status;
  e->status = initialise(dl, file, static_cast<const mrdNet_v1_t*>(sym), &e->plugin);
  if (!e->status.isOk()) e->status = e->status.withContext("MRD_NET_PLUGIN=" + spec);
  gByHandle.emplace(dl, e);  // loaded for good (even after a failed init: never re-init)
  if (e->status.isOk()) *out = &e->plugin;
  return e->status;
}

}  // namespace mrd::transport::plugin
