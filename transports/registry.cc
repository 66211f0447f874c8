// The one list of built-in transports, in the default order of preference.
#include "shm/shm_transport.h"
#include "tcp/tcp_transport.h"
#include "config/params.h"

namespace mrd::transport {

std::vector<std::unique_ptr<Transport>> makeBuiltinTransports(const config::Params& params) {
  std::vector<std::unique_ptr<Transport>> all;
  all.push_back(shm::makeShmTransport(params.shmDisable));
  all.push_back(tcp::makeTcpTransport());
  return all;
}

}  // namespace mrd::transport
