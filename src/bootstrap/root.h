// The bootstrap root: a thread, started by mrdGetUniqueId (or by rank 0 when
// the address was pinned), that collects one Hello from every rank, checks
// the secret and that everyone agrees on nranks with distinct ranks, sends
// the table of all RankInfos back, and exits. Refuses garbage with one log
// line and never lets one slow or hostile connection stall the others.
#pragma once

#include "bootstrap/wire.h"
#include "core/status.h"

namespace mrd::bootstrap {

// Binds at `at` (port 0 picks one), starts the root thread, and returns the
// bound address. The thread owns the socket and ends by itself.
Status startRoot(const net::SockAddr& at, const Secret& secret, net::SockAddr* bound);

// Creates a unique id: a fresh secret and a new root in this process, or,
// when MRD_COMM_ID is set, a pinned id pointing there (rank 0 starts the root).
Status createUniqueId(mrdUniqueId* id);
// Always a fresh secret and a new root in this process on a free port
// (MRD_COMM_ID aside): a communicator split from another, whose ranks
// exchange the id themselves; the pinned address is the parent's root's.
Status freshUniqueId(mrdUniqueId* id);
// A pinned id for host:port with a secret derived from the address: what
// ranks started by torchrun/MPI without MRD_UNIQUE_ID agree on by themselves.
Status pinnedUniqueId(const std::string& host, int port, mrdUniqueId* id);
Status decodeUniqueId(const mrdUniqueId& id, IdPayload* out);

}  // namespace mrd::bootstrap
