// Streams in the C API.
#include "core/api_guard.h"

using namespace mrd;

extern "C" {

mrdResult_t mrdStreamCreate(mrdComm_t comm, mrdStream_t* stream) {
  return api::guarded(comm, "mrdStreamCreate", [&] {
    MRD_TRY(api::checkComm(comm, "mrdStreamCreate"));
    if (stream == nullptr) return invalidArgument("mrdStreamCreate: stream is NULL");
    *stream = new mrdStream(comm);
    comm->attachStream(*stream);
    return Status::ok();
  });
}

mrdResult_t mrdStreamSynchronize(mrdStream_t stream) {
  return api::guarded(nullptr, "mrdStreamSynchronize", [&] {
    if (stream == nullptr) return invalidArgument("mrdStreamSynchronize: stream is NULL");
    if (stream->comm() == nullptr) return Status::ok();
    return stream->synchronize(-1);
  });
}

mrdResult_t mrdStreamQuery(mrdStream_t stream) {
  if (stream == nullptr) {
    return api::finish(nullptr, invalidArgument("mrdStreamQuery: stream is NULL"), "mrdStreamQuery");
  }
  return stream->query();
}

mrdResult_t mrdStreamDestroy(mrdStream_t stream) {
  return api::guarded(nullptr, "mrdStreamDestroy", [&] {
    if (stream == nullptr) return invalidArgument("mrdStreamDestroy: stream is NULL");
    Status st = stream->comm() != nullptr ? stream->synchronize(-1) : Status::ok();
    {
      // (The communicator may be going away on another thread meanwhile:
      // under the lock it either still holds the stream or has let go.)
      std::lock_guard<std::mutex> a(mrd::Stream::attachMutex());
      if (mrd::Communicator* c = stream->comm()) c->detachStream(stream);
    }
    delete stream;
    return st;
  });
}

}  // extern "C"
