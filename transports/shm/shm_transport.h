// The shared-memory transport's one public entry point: ranks on one host.
#pragma once

#include <memory>

#include "transport/transport.h"

namespace mrd::transport::shm {

std::unique_ptr<Transport> makeShmTransport(bool disabled);

}  // namespace mrd::transport::shm
