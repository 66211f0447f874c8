#include "plugin/plugin_lib.h"

#include <dlfcn.h>

#include <cstdio>

namespace mrd::plugin {

std::vector<std::string> libraryCandidates(const std::string& spec, const std::string& prefix) {
  if (spec.find('/') != std::string::npos) return {spec};
  return {prefix + spec + ".so", spec};
}

Status openLibrary(const PluginRef& ref, const std::vector<std::string>& candidates, void** dl,
                   std::string* file) {
  *dl = nullptr;
  std::string tried;
  for (const std::string& f : candidates) {
    dlerror();
    void* h = dlopen(f.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h != nullptr) {
      *dl = h;
      *file = f;
      return Status::ok();
    }
    const char* err = dlerror();
    std::string why = err != nullptr ? err : "dlopen failed";
    if (why.find(f) == std::string::npos) why = f + ": " + why;  // dlerror usually names it
    tried += (tried.empty() ? "" : "; ") + why;
  }
  return systemError(std::string(ref.envVar) + "=" + ref.spec + ": cannot load the " + ref.kind +
                     " plug-in (" + tried + ")");
}

Status findTable(const PluginRef& ref, void* dl, const std::string& file, const char* symbol,
                 void** table) {
  dlerror();
  *table = dlsym(dl, symbol);
  if (*table != nullptr) return Status::ok();
  const char* err = dlerror();
  Status st = invalidUsage(std::string(ref.envVar) + "=" + ref.spec + ": " + file +
                           " is not a Meridian " + ref.kind + " plug-in: no symbol " + symbol +
                           " (" + (err != nullptr ? err : "not found") + ")");
  dlclose(dl);
  return st;
}

void logPluginLine(log::Subsys sub, const char* who, int level, const char* file, int line,
                   const char* fmt, va_list ap, std::string* lastWarning) {
  if (level <= 0) return;
  auto& lg = log::get(sub);
  if (level > 1 && !lg.should_log(level == 2 ? spdlog::level::info
                                  : level == 3 ? spdlog::level::debug
                                               : spdlog::level::trace)) {
    return;  // formatting costs more than the check
  }
  char buf[1024];
  std::vsnprintf(buf, sizeof buf, fmt != nullptr ? fmt : "(null)", ap);
  const char* base = file != nullptr ? file : "";
  for (const char* p = base; *p != '\0'; ++p) {
    if (*p == '/') base = p + 1;
  }
  switch (level) {
    case 1:
      if (lastWarning != nullptr) *lastWarning = buf;
      lg.warn("{} ({}:{}): {}", who, base, line, buf);
      break;
    case 2:
      lg.info("{}: {}", who, buf);
      break;
    case 3:
      lg.debug("{} ({}:{}): {}", who, base, line, buf);
      break;
    default:
      lg.trace("{} ({}:{}): {}", who, base, line, buf);
      break;
  }
}

}  // namespace mrd::plugin
