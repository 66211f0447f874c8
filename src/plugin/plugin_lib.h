// What the network and tuner plug-in loaders share: the file names tried
// for an MRD_*_PLUGIN value, dlopen with every failure's dlerror() in the
// error, dlsym of the table, and forwarding a plug-in's printf-style log
// lines to a subsystem's logger. Libraries opened here stay loaded until
// the process exits (plug-in code may still be referenced by state that
// outlives any one communicator).
#pragma once

#include <cstdarg>
#include <string>
#include <vector>

#include "core/status.h"
#include "log/log.h"

namespace mrd::plugin {

// Which plug-in a message is about: the variable naming it, its value, and
// the kind of plug-in in words ("net", "tuner").
struct PluginRef {
  const char* envVar;  // "MRD_NET_PLUGIN"
  std::string spec;    // the variable's value
  const char* kind;    // "net"
};

// The file names tried for `spec`, in order: a value with a '/' is a path
// and used as given; otherwise <prefix><spec>.so, then <spec> itself (as
// NCCL_NET_PLUGIN / NCCL_TUNER_PLUGIN do). prefix: "libmeridian-net-".
std::vector<std::string> libraryCandidates(const std::string& spec, const std::string& prefix);

// dlopen (RTLD_NOW | RTLD_LOCAL) of the first candidate that loads; sets
// *dl and *file (the name that loaded). The error (mrdSystemError) names
// every file tried with its dlerror().
Status openLibrary(const PluginRef& ref, const std::vector<std::string>& candidates, void** dl,
                   std::string* file);

// dlsym(dl, symbol); the error (mrdInvalidUsage) names the file and the
// symbol, with dlerror(). On error the library is dlclose()d.
Status findTable(const PluginRef& ref, void* dl, const std::string& file, const char* symbol,
                 void** table);

// Formats a plug-in's log line and writes it to `sub` at `level` (0 none,
// 1 WARN, 2 INFO, 3 DEBUG, 4 and above TRACE), prefixed with `who`
// ("net plug-in"); WARN and DEBUG lines also name the plug-in's source
// file and line. A WARN line's text is also stored in *lastWarning (the
// detail an error returned next will carry).
void logPluginLine(log::Subsys sub, const char* who, int level, const char* file, int line,
                   const char* fmt, va_list ap, std::string* lastWarning);

}  // namespace mrd::plugin
