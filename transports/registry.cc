// The one list of built-in transports, in the default order of preference.
#include "shm/shm_transport.h"
#include "tcp/tcp_transport.h"
#include "plugin/net_plugin_transport.h"
#include "config/params.h"

namespace mrd::transport {

std::vector<std::unique_ptr<Transport>> makeBuiltinTransports(const config::Params& params) {
  std::vector<std::unique_ptr<Transport>> all;
  all.push_back(shm::makeShmTransport(params.shmDisable));
  // A network plug-in (MRD_NET_PLUGIN), when one is named: "net:<name>".
  if (!params.netPlugin.empty()) {
    all.push_back(plugin::makeNetPluginTransport(params.netPlugin, params.transports));
  }
  all.push_back(tcp::makeTcpTransport());
  return all;
}

}  // namespace mrd::transport
