// Pressure stall information; see cpu_pressure.h.
#include "link/cpu_pressure.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace mrd::link {
namespace {

bool readSmallFile(const std::string& file, std::string* text) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return false;
  text->assign(buf, static_cast<size_t>(n));
  return true;
}

// The cgroup v2 pressure file of this process ("0::/path" in
// /proc/self/cgroup, under the v2 mount: /sys/fs/cgroup, or
// /sys/fs/cgroup/unified on hybrid systems), or the machine's (also for
// the root cgroup, which has none of its own).
std::string pressureFile() {
  std::string groups;
  if (readSmallFile("/proc/self/cgroup", &groups)) {
    size_t at = groups.rfind("0::", 0) == 0 ? 0 : groups.find("\n0::");
    if (at != std::string::npos) {
      at += groups[at] == '\n' ? 4 : 3;
      const size_t end = groups.find('\n', at);
      const std::string path = groups.substr(at, end == std::string::npos ? std::string::npos : end - at);
      for (const char* mount : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
        if (path.empty() || path == "/") break;  // the root: the machine's file
        const std::string file = std::string(mount) + path + "/cpu.pressure";
        uint64_t probe = 0;
        if (readCpuWaitUs(file, &probe)) return file;
      }
    }
  }
  return "/proc/pressure/cpu";
}

}  // namespace

bool parseCpuWaitUs(const std::string& text, uint64_t* us) {
  // "some avg10=0.00 avg60=0.00 avg300=0.00 total=12345"
  size_t line = text.rfind("some ", 0) == 0 ? 0 : text.find("\nsome ");
  if (line == std::string::npos) return false;
  const size_t end = text.find('\n', line + 1);
  const std::string fields = text.substr(line, end == std::string::npos ? std::string::npos : end - line);
  const size_t total = fields.find(" total=");
  if (total == std::string::npos) return false;
  const char* digits = fields.c_str() + total + 7;
  if (*digits < '0' || *digits > '9') return false;
  char* stop = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(digits, &stop, 10);
  if (errno == ERANGE) return false;
  for (; *stop != '\0'; ++stop) {
    if (*stop != ' ' && *stop != '\t' && *stop != '\r' && *stop != '\n') return false;
  }
  *us = static_cast<uint64_t>(v);
  return true;
}

bool readCpuWaitUs(const std::string& file, uint64_t* us) {
  std::string text;
  return !file.empty() && readSmallFile(file, &text) && parseCpuWaitUs(text, us);
}

bool readCpuWaitUs(uint64_t* us) {
  static const std::string file = pressureFile();
  return readCpuWaitUs(file, us);
}

}  // namespace mrd::link
