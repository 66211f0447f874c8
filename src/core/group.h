// mrdGroupStart / mrdGroupEnd: per thread, operations (and communicator
// inits) issued inside a group are held back and launched together at the
// outermost mrdGroupEnd.
//
// Operations on one communicator run as one schedule, in issue order, so
// send/recv pairs inside a group never deadlock. Operations on several
// communicators run concurrently, one job per communicator on its progress
// worker: a single thread may drive several ranks of one job (NCCL's
// one-thread-many-devices pattern) without the ranks waiting on each other.
// A communicator initialised inside a group joins in the background and is
// ready when mrdGroupEnd returns (NCCL's grouped init).
#pragma once

#include <vector>

#include "core/comm.h"

namespace mrd::api {

bool groupOpen();
void groupStart();
// Holds an operation until the group ends.
void groupAdd(mrdComm_t comm, mrdStream_t stream, CollRequest req);
// A communicator whose init runs in the background until the group ends.
void groupAddInit(mrdComm_t comm);
Status groupEnd();

}  // namespace mrd::api
