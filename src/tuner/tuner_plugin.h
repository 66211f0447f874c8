// Tuner plug-ins (include/meridian/meridian_tuner.h): loading the library
// MRD_TUNER_PLUGIN names (dlopen and dlsym once per process and value; the
// library stays loaded), and, per communicator, an init()ed context wrapped
// as the Tuner's CostAdjuster, whose destruction calls destroy().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "meridian/meridian_tuner.h"
#include "tuner/tuner.h"

namespace mrd::tuner {

// The file names tried for an MRD_TUNER_PLUGIN value, in order: a value
// with a '/' is a path used as given; otherwise
// libmeridian-tuner-<value>.so, then <value> itself.
std::vector<std::string> tunerPluginCandidates(const std::string& spec);

// The plug-in's table and the file it came from. The first call for a
// value opens the library; later calls return the same result, success or
// error. The error names every file tried with its dlerror(), or the
// missing symbol, or the table's missing entry.
Status openTunerPlugin(const std::string& spec, const mrdTuner_v1_t** table, std::string* file);

// Opens the plug-in and calls its init(nranks, nhosts) for one
// communicator. *out owns the context: destroying it calls destroy().
// *file (optional) receives the library's name as loaded.
Status loadTunerPlugin(const std::string& spec, int nranks, int nhosts,
                       std::unique_ptr<CostAdjuster>* out, std::string* file = nullptr);

// The plug-in interface's value for a collective (send and recv: SENDRECV).
mrdTunerColl_t tunerCollOf(CollKind kind);

}  // namespace mrd::tuner
