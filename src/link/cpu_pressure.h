// How long this machine's tasks have waited for a CPU: Linux's pressure
// stall information (/proc/pressure/cpu, "some ... total=<us>": time in
// which at least one runnable task had no CPU). A link whose paths all
// look slow while the tasks wait for CPUs most of that time is short of
// CPU, not of network: relaying through a third host costs more CPU and
// does not help it (link_relay.cc).
#pragma once

#include <cstdint>
#include <string>

namespace mrd::link {

// The "some" line's total in microseconds from the file's text; false if
// there is none.
bool parseCpuWaitUs(const std::string& text, uint64_t* us);

// Reads `file` (normally /proc/pressure/cpu); false where it is missing or
// unreadable (kernels without PSI, psi=0, an empty name).
bool readCpuWaitUs(const std::string& file, uint64_t* us);

}  // namespace mrd::link
