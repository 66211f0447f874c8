// The C boundary: turns Status into mrdResult_t, records the message for
// mrdGetLastError (on the communicator, and per thread for calls without
// one), and stops C++ exceptions from crossing into C.
#pragma once

#include <exception>
#include <string>

#include "core/comm.h"
#include "core/status.h"

namespace mrd::api {

// Records the message and logs it; returns the code.
mrdResult_t finish(mrdComm_t comm, const Status& st, const char* call);
void setThreadError(const std::string& message);
const char* threadError();

// A usable communicator: not null, not destroyed, not finalized/aborted.
Status checkComm(mrdComm_t comm, const char* call);

template <typename F>
mrdResult_t guarded(mrdComm_t comm, const char* call, F&& body) {
  try {
    return finish(comm, body(), call);
  } catch (const std::bad_alloc&) {
    return finish(comm, systemError(std::string(call) + ": out of memory"), call);
  } catch (const std::exception& e) {
    return finish(comm, internalError(std::string(call) + ": " + e.what()), call);
  }
}

// As guarded(), but holds the communicator's call guard from before the
// argument checks until after the error is recorded, so mrdCommAbort on
// another thread waits for this call to leave before freeing anything.
template <typename F>
mrdResult_t guardedComm(mrdComm_t comm, const char* call, F&& body) {
  if (comm == nullptr || !comm->valid()) return guarded(comm, call, body);
  Communicator::CallGuard guard(comm);
  return guarded(comm, call, body);
}

}  // namespace mrd::api
