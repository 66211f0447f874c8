// Loading a network plug-in (include/meridian/meridian_net.h): dlopen of the
// library MRD_NET_PLUGIN names, dlsym of the newest table version this
// Meridian knows (v1), init() and devices(). Once per process and library;
// the library stays loaded until the process exits.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "meridian/meridian_net.h"

namespace mrd::transport::plugin {

struct LoadedNetPlugin {
  const mrdNet_v1_t* net = nullptr;
  std::string file;  // the name dlopen accepted
  int ndev = 0;
  mrdNetProperties_v1_t props{};  // of device 0
};

// The file names tried for an MRD_NET_PLUGIN value, in order: a value with
// a '/' is a path and used as given; otherwise libmeridian-net-<value>.so,
// then <value> itself (as NCCL_NET_PLUGIN).
std::vector<std::string> netPluginCandidates(const std::string& spec);

// Loads and initialises the plug-in (the first time; later calls with the
// same spec return the same result, success or error). The error names
// every file tried with its dlerror(), or the missing symbol, or the call
// that failed.
Status loadNetPlugin(const std::string& spec, const LoadedNetPlugin** out);

// The last WARN line the plug-in logged on this thread, then cleared: the
// detail attached to an error a plug-in call returned.
std::string takePluginWarning();

}  // namespace mrd::transport::plugin
