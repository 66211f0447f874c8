// Pressure stall information; see cpu_pressure.h.
#include "link/cpu_pressure.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

namespace mrd::link {

bool parseCpuWaitUs(const std::string& text, uint64_t* us) {
  // "some avg10=0.00 avg60=0.00 avg300=0.00 total=12345"
  size_t line = text.rfind("some ", 0) == 0 ? 0 : text.find("\nsome ");
  if (line == std::string::npos) return false;
  const size_t end = text.find('\n', line + 1);
  const size_t total = text.find("total=", line);
  if (total == std::string::npos || (end != std::string::npos && total > end)) return false;
  const char* digits = text.c_str() + total + 6;
  if (*digits < '0' || *digits > '9') return false;
  char* stop = nullptr;
  const unsigned long long v = std::strtoull(digits, &stop, 10);
  if (stop == digits || (*stop != '\0' && *stop != '\n' && *stop != ' ')) return false;
  *us = static_cast<uint64_t>(v);
  return true;
}

bool readCpuWaitUs(const std::string& file, uint64_t* us) {
  if (file.empty()) return false;
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  return parseCpuWaitUs(std::string(buf, static_cast<size_t>(n)), us);
}

}  // namespace mrd::link
