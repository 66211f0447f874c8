// Group calls: see group.h.
#include "core/group.h"

#include <chrono>
#include <memory>
#include <thread>

namespace mrd::api {
namespace {

struct Pending {
  mrdComm_t comm;
  mrdStream_t stream;
  CollRequest req;
};

struct GroupState {
  int depth = 0;
  std::vector<Pending> ops;
  std::vector<mrdComm_t> inits;
};
thread_local GroupState tlsGroup;

// Waits for communicators initialising in the background. Their own waits
// are bounded by their timeout, so this loop ends.
Status waitForInits(const std::vector<mrdComm_t>& inits) {
  Status first = Status::ok();
  for (mrdComm_t c : inits) {
    while (c->asyncError() == mrdInProgress) std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (c->asyncError() != mrdSuccess && first.isOk()) {
      first = Status(c->asyncError(), "grouped init of rank " + std::to_string(c->rank()) +
                                          " failed: " + c->lastError());
    }
  }
  return first;
}

// One communicator's share of the group, in issue order.
struct CommBatch {
  mrdComm_t comm;
  mrdStream_t stream;  // the stream of its first operation (nullptr: blocking)
  std::vector<CollRequest> reqs;
};

std::vector<CommBatch> batchByComm(std::vector<Pending>* ops) {
  std::vector<CommBatch> batches;
  for (Pending& p : *ops) {
    CommBatch* b = nullptr;
    for (CommBatch& existing : batches) {
      if (existing.comm == p.comm) b = &existing;
    }
    if (b == nullptr) {
      batches.push_back(CommBatch{p.comm, p.stream, {}});
      b = &batches.back();
    }
    b->reqs.push_back(std::move(p.req));
  }
  return batches;
}

}  // namespace

bool groupOpen() { return tlsGroup.depth > 0; }

void groupStart() { ++tlsGroup.depth; }

void groupAdd(mrdComm_t comm, mrdStream_t stream, CollRequest req) {
  tlsGroup.ops.push_back(Pending{comm, stream, std::move(req)});
}

void groupAddInit(mrdComm_t comm) { tlsGroup.inits.push_back(comm); }

Status groupEnd() {
  GroupState& g = tlsGroup;
  if (g.depth == 0) return invalidUsage("mrdGroupEnd without mrdGroupStart");
  if (--g.depth > 0) return Status::ok();
  std::vector<Pending> ops = std::move(g.ops);
  std::vector<mrdComm_t> inits = std::move(g.inits);
  g.ops.clear();
  g.inits.clear();

  Status first = waitForInits(inits);
  if (!first.isOk()) return first;
  std::vector<CommBatch> batches = batchByComm(&ops);
  auto record = [&first](mrdComm_t comm, const Status& st) {
    if (st.isOk()) return;
    comm->setError(st);
    if (first.isOk()) first = st;
  };
  if (batches.size() == 1) {
    Communicator::CallGuard guard(batches[0].comm);
    record(batches[0].comm, batches[0].comm->submit(std::move(batches[0].reqs), batches[0].stream));
    return first;
  }
  // Several communicators: every batch goes to its communicator's worker at
  // once; blocking batches are then waited for through private streams.
  std::vector<std::unique_ptr<Communicator::CallGuard>> guards;
  std::vector<std::unique_ptr<Stream>> waits(batches.size());
  for (size_t i = 0; i < batches.size(); ++i) {
    CommBatch& b = batches[i];
    guards.push_back(std::make_unique<Communicator::CallGuard>(b.comm));
    Stream* target = b.stream;
    if (target == nullptr) {
      waits[i] = std::make_unique<Stream>(b.comm);
      target = waits[i].get();
    }
    record(b.comm, b.comm->enqueue(std::move(b.reqs), target));
  }
  for (size_t i = 0; i < batches.size(); ++i) {
    if (waits[i] != nullptr) record(batches[i].comm, waits[i]->synchronize(-1));
  }
  return first;
}

}  // namespace mrd::api
