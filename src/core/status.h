// Status: an error code from the public enum plus a message. Every internal
// call that can fail returns one; the C boundary turns it into mrdResult_t
// and stores the message for mrdGetLastError.
#pragma once

#include <string>
#include <utility>

#include "meridian/meridian.h"

namespace mrd {

class Status {
 public:
  Status() = default;
  Status(mrdResult_t code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  bool isOk() const { return code_ == mrdSuccess; }
  explicit operator bool() const { return isOk(); }
  mrdResult_t code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with context ("allreduce step 3: ") and keeps the code.
  Status withContext(const std::string& context) const {
    if (isOk()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  mrdResult_t code_ = mrdSuccess;
  std::string message_;
};

inline Status invalidArgument(std::string m) { return Status(mrdInvalidArgument, std::move(m)); }
inline Status invalidUsage(std::string m) { return Status(mrdInvalidUsage, std::move(m)); }
inline Status systemError(std::string m) { return Status(mrdSystemError, std::move(m)); }
inline Status internalError(std::string m) { return Status(mrdInternalError, std::move(m)); }
inline Status remoteError(std::string m) { return Status(mrdRemoteError, std::move(m)); }
inline Status timeoutError(std::string m) { return Status(mrdTimeout, std::move(m)); }

// errno text with the call that failed: "connect(10.0.0.1:5000): Connection refused".
std::string errnoText(const std::string& what, int err);

}  // namespace mrd

// Returns early from the enclosing function when a Status-returning
// expression fails. Spelled out at each use so the control flow is visible.
#define MRD_TRY(expr)                     \
  do {                                    \
    ::mrd::Status mrd_try_s_ = (expr);    \
    if (!mrd_try_s_.isOk()) return mrd_try_s_; \
  } while (0)
