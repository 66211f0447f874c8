// A network plug-in (include/meridian/meridian_net.h) as a Meridian
// transport. Offered by the registry when MRD_NET_PLUGIN is set, between
// shm and tcp; its name is "net:" + the plug-in's own name (e.g.
// "net:example"), which is what MRD_TRANSPORTS must list to use it.
//
// Setup (collective): for every peer served and every channel this rank
// creates one listen comm (so an accepted comm's peer and channel are
// known), the handle tables are allgathered over the bootstrap, then one
// loop drives the plug-in's non-blocking connect() and accept() for all
// peers and channels until every pair is up, the deadline passes or the
// communicator is aborted. A rank whose plug-in failed to load still takes
// part in the exchange and says so, so every rank fails with a clear error
// instead of waiting for a timeout.
//
// Data path: one plug-in sendComm and one recvComm per (peer, channel).
// postSend/postRecv register the buffer (regMr) and post it (isend/irecv);
// a post the plug-in cannot take yet (NULL request) waits in a FIFO and is
// retried from progress(), which tests outstanding requests in posting
// order. Plug-in transports do not probe yet: probe() succeeds and
// lastProbe().rttNs stays 0 (an unsolicited ping would break the in-order
// matching of the plug-in contract).
#pragma once

#include <memory>
#include <string>

#include "transport/transport.h"

namespace mrd::transport::plugin {

// Loads the plug-in `spec` (MRD_NET_PLUGIN) if it is not loaded yet. On
// failure the transport is still offered (named after `spec`:
// ".../libmeridian-net-foo.so" or "foo" give "net:foo") and its connect()
// returns the load error on every rank, so communicator init fails naming
// the file and dlerror() whether or not MRD_TRANSPORTS lists it.
std::unique_ptr<Transport> makeNetPluginTransport(const std::string& spec,
                                                  const std::string& allowedTransports);

}  // namespace mrd::transport::plugin
