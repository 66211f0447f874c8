// Starts the ranks of one job as child processes and supervises them: signal
// forwarding, failure propagation, the --timeout and --tag-output.
#pragma once

#include <string>

#include "options.h"

namespace mrdrun {

// Blocks the signals the supervisor waits for (SIGCHLD and the forwarded
// ones) in the calling thread. Call it before anything starts a thread, so
// that every thread of mrdrun inherits the mask and the signals stay pending
// for the supervisor's signalfd instead of going to some other thread.
void blockJobSignals();

// Runs opts.command as opts.np ranks that rendezvous through uniqueId (the
// MRD_UNIQUE_ID text) and returns mrdrun's exit status.
int runJob(const Options& opts, const std::string& uniqueId);

}  // namespace mrdrun
