// Linked into every test binary: tests talk over loopback only. Set before
// main(), so it is in place before the library reads its parameters; a
// value given by the caller (ctest ENVIRONMENT, a shell) wins.
#include <cstdlib>

namespace {

struct LoopbackOnly {
  LoopbackOnly() { setenv("MRD_SOCKET_IFNAME", "lo", 0); }
} loopbackOnly;

}  // namespace
