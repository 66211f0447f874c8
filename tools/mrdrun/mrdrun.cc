// mrdrun: starts N ranks of a Meridian program on this machine, Open MPI
// mpirun style. It hosts the bootstrap root itself (mrdGetUniqueId starts it
// in this process) and hands every rank MRD_UNIQUE_ID, so the ranks need no
// free port or shared address of their own.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/launch_env.h"
#include "launcher.h"
#include "meridian/meridian.h"
#include "options.h"

int main(int argc, char** argv) {
  mrdrun::Options opts;
  std::string error;
  if (!mrdrun::parseOptions(argc, argv, &opts, &error)) {
    std::fprintf(stderr, "mrdrun: %s\nTry 'mrdrun --help'.\n", error.c_str());
    return 2;
  }
  if (opts.help) {
    std::fputs(mrdrun::usageText(), stdout);
    return 0;
  }
  if (opts.version) {
    int version = 0;
    mrdGetVersion(&version);
    std::printf("mrdrun (Meridian) %d.%d.%d\n", version / 10000, version / 100 % 100,
                version % 100);
    return 0;
  }
  // Before mrdGetUniqueId: its root thread must inherit the blocked mask, or
  // SIGCHLD and forwarded signals could be delivered to (and lost in) it.
  mrdrun::blockJobSignals();
  // Every rank runs on this host, so bootstrap and TCP traffic belongs on
  // loopback unless the user says otherwise (the children inherit this).
  setenv("MRD_SOCKET_IFNAME", "lo", 0);
  mrdUniqueId id;
  mrdResult_t rc = mrdGetUniqueId(&id);
  if (rc != mrdSuccess) {
    std::fprintf(stderr, "mrdrun: cannot start the bootstrap root: %s (%s)\n",
                 mrdGetLastError(nullptr), mrdGetErrorString(rc));
    return 1;
  }
  std::fflush(stdout);
  // Returning (rather than _exit) is fine with the root thread still waiting
  // for ranks: it is detached and owns nothing that needs a destructor.
  return mrdrun::runJob(opts, mrd::uniqueIdToString(id));
}
