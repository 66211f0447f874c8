// The TCP transport's one public entry point.
#pragma once

#include <memory>

#include "transport/transport.h"

namespace mrd::transport::tcp {

std::unique_ptr<Transport> makeTcpTransport();

}  // namespace mrd::transport::tcp
