// How long tasks have waited for a CPU: Linux's pressure stall information
// ("some ... total=<us>": time in which at least one runnable task had no
// CPU), of this process's cgroup (v2, cpu.pressure) where the kernel keeps
// one, else of the whole machine (/proc/pressure/cpu). A link whose paths
// all look slow while tasks wait for CPUs most of that time is short of
// CPU, not of network: relaying through a third host costs more CPU and
// does not help it (link_relay.cc).
#pragma once

#include <cstdint>
#include <string>

namespace mrd::link {

// The "some" line's total in microseconds from a pressure file's text;
// false if there is none.
bool parseCpuWaitUs(const std::string& text, uint64_t* us);

// Reads a pressure file; false where it is missing or unreadable.
bool readCpuWaitUs(const std::string& file, uint64_t* us);

// This process's: its cgroup's cpu.pressure, else /proc/pressure/cpu
// (chosen once); false without PSI (kernels before 4.20, psi=0).
bool readCpuWaitUs(uint64_t* us);

}  // namespace mrd::link
