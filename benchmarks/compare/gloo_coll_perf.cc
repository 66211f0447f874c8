// gloo_coll_perf: the Gloo side of the comparison (benchmarks/compare), with
// the flags and the table of Meridian's *_perf benchmarks. Debian's
// libgloo-dev, TCP transport, a file store for the rendezvous; one process
// per rank (compare.py starts them).
//
//   RANK=0 WORLD_SIZE=2 CMP_GLOO_STORE=/tmp/s gloo_coll_perf allreduce -b 8 -e 1M &
//   RANK=1 WORLD_SIZE=2 CMP_GLOO_STORE=/tmp/s gloo_coll_perf allreduce -b 8 -e 1M
//
// Environment:
//   RANK, WORLD_SIZE     this rank and the number of ranks
//   CMP_GLOO_STORE       a directory every rank can reach (namespaces share
//                        the file system); empty or new for each job
//   GLOO_SOCKET_IFNAME   bind the TCP device to this interface, else
//   CMP_GLOO_HOST        to this address (default 127.0.0.1)
//   CMP_GLOO_TIMEOUT_S   per-operation timeout (default 120)
//
// Collectives, float32 sum: allreduce, allgather, alltoall and broadcast are
// Gloo's out-of-place entry points (gloo::allreduce with its default ring,
// gloo::allgather, gloo::alltoall, gloo::broadcast). This Gloo has no
// out-of-place reduce-scatter: reduce_scatter runs Gloo's
// ReduceScatterHalvingDoubling, which reduces a buffer in place and leaves
// this rank's block at its start. Timed calls run it on a zeroed work buffer
// (no copy in the timed loop: zeros stay zeros); a check call copies the
// send buffer in and the result out. One device, so one interface: Gloo does
// not stripe over rails.
#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/alltoall.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/config.h>
#include <gloo/math.h>
#include <gloo/reduce_scatter.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "perf_common.h"

namespace {

using ReduceFn = void (*)(void*, const void*, const void*, size_t);

struct GlooState {
  std::shared_ptr<gloo::Context> ctx;
  // reduce_scatter: Gloo's in-place algorithm, bound to one buffer and count.
  std::vector<float> rs_work;
  std::unique_ptr<gloo::ReduceScatterHalvingDoubling<float>> rs;
  size_t rs_count = 0;
  bool rs_dirty = false;  // the work buffer holds a check's data
};

GlooState& State(cmp_lib_t* lib) { return *static_cast<GlooState*>(lib->impl); }

void ReduceScatter(cmp_lib_t* lib, const cmp_counts_t* c, const float* send, float* recv) {
  GlooState& g = State(lib);
  if (!g.rs || g.rs_count != c->send) {
    g.rs.reset();
    if (g.rs_work.size() < c->send) g.rs_work.resize(c->send);
    std::vector<int> blocks(static_cast<size_t>(lib->nranks), static_cast<int>(c->param));
    std::vector<float*> ptrs{g.rs_work.data()};
    g.rs.reset(new gloo::ReduceScatterHalvingDoubling<float>(g.ctx, ptrs, static_cast<int>(c->send),
                                                             blocks));
    g.rs_count = c->send;
  }
  if (lib->checking) {
    std::memcpy(g.rs_work.data(), send, c->send * sizeof(float));
    g.rs->run();
    std::memcpy(recv, g.rs_work.data(), c->recv * sizeof(float));
    g.rs_dirty = true;
    return;
  }
  if (g.rs_dirty) {  // outside the timed loop: the untimed call comes first
    std::memset(g.rs_work.data(), 0, g.rs_work.size() * sizeof(float));
    g.rs_dirty = false;
  }
  g.rs->run();
}

int Run(cmp_lib_t* lib, cmp_coll_t coll, const cmp_counts_t* c, int root, const float* send,
        float* recv) {
  GlooState& g = State(lib);
  float* in = const_cast<float*>(send);
  try {
    switch (coll) {
      case CMP_ALLREDUCE: {
        gloo::AllreduceOptions opts(g.ctx);
        opts.setInput(in, c->send);
        opts.setOutput(recv, c->recv);
        opts.setReduceFunction(static_cast<ReduceFn>(&gloo::sum<float>));
        gloo::allreduce(opts);
        break;
      }
      case CMP_ALLGATHER: {
        gloo::AllgatherOptions opts(g.ctx);
        opts.setInput(in, c->send);
        opts.setOutput(recv, c->recv);
        gloo::allgather(opts);
        break;
      }
      case CMP_ALLTOALL: {
        gloo::AlltoallOptions opts(g.ctx);
        opts.setInput(in, c->send);
        opts.setOutput(recv, c->recv);
        gloo::alltoall(opts);
        break;
      }
      case CMP_BROADCAST: {
        gloo::BroadcastOptions opts(g.ctx);
        if (lib->rank == root) opts.setInput(in, c->send);
        opts.setOutput(recv, c->recv);
        opts.setRoot(root);
        gloo::broadcast(opts);
        break;
      }
      case CMP_REDUCE_SCATTER:
        ReduceScatter(lib, c, send, recv);
        break;
      default:
        return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gloo_coll_perf: rank %d: %s\n", lib->rank, e.what());
    return 1;
  }
  return 0;
}

void Barrier(cmp_lib_t* lib) {
  gloo::BarrierOptions opts(State(lib).ctx);
  gloo::barrier(opts);
}

void AllreduceDoubles(cmp_lib_t* lib, double* v, int n, cmp_red_t op) {
  gloo::AllreduceOptions opts(State(lib).ctx);
  opts.setOutput(v, static_cast<size_t>(n));
  ReduceFn fn = op == CMP_RED_MIN   ? static_cast<ReduceFn>(&gloo::min<double>)
                : op == CMP_RED_MAX ? static_cast<ReduceFn>(&gloo::max<double>)
                                    : static_cast<ReduceFn>(&gloo::sum<double>);
  opts.setReduceFunction(fn);
  gloo::allreduce(opts);
}

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  cmp_lib_t lib;
  std::memset(&lib, 0, sizeof lib);
  lib.program = "gloo_coll_perf";
  cmp_opts_t opts;
  const int parsed = cmp_parse_args(argc, argv, &opts);
  if (parsed != 0) return parsed == 1 ? 0 : 2;
  if (opts.max_bytes / sizeof(float) > 0x7fffffffu) {
    std::fprintf(stderr, "gloo_coll_perf: -e too large for int counts\n");
    return 2;
  }
  lib.rank = EnvInt("RANK", -1);
  lib.nranks = EnvInt("WORLD_SIZE", -1);
  const char* store_dir = std::getenv("CMP_GLOO_STORE");
  if (lib.rank < 0 || lib.nranks < 1 || lib.rank >= lib.nranks || store_dir == nullptr ||
      *store_dir == '\0') {
    std::fprintf(stderr, "gloo_coll_perf: set RANK, WORLD_SIZE and CMP_GLOO_STORE\n");
    return 2;
  }
  GlooState state;
  try {
    gloo::transport::tcp::attr attr;
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    const char* host = std::getenv("CMP_GLOO_HOST");
    if (ifname != nullptr && *ifname != '\0') {
      attr.iface = ifname;
    } else {
      attr.hostname = host != nullptr && *host != '\0' ? host : "127.0.0.1";
    }
    auto device = gloo::transport::tcp::CreateDevice(attr);
    gloo::rendezvous::FileStore file_store(store_dir);
    gloo::rendezvous::PrefixStore store("gloo_coll_perf", file_store);
    auto ctx = std::make_shared<gloo::rendezvous::Context>(lib.rank, lib.nranks);
    ctx->setTimeout(std::chrono::seconds(EnvInt("CMP_GLOO_TIMEOUT_S", 120)));
    ctx->connectFullMesh(store, device);
    state.ctx = ctx;
    std::snprintf(lib.description, sizeof lib.description, "Gloo %d.%d.%d tcp %s=%.60s",
                  GLOO_VERSION_MAJOR, GLOO_VERSION_MINOR, GLOO_VERSION_PATCH,
                  attr.iface.empty() ? "addr" : "iface",
                  attr.iface.empty() ? attr.hostname.c_str() : attr.iface.c_str());
    lib.impl = &state;
    lib.run = Run;
    lib.barrier = Barrier;
    lib.allreduce_d = AllreduceDoubles;
    const long long wrong = cmp_main(&lib, &opts);
    Barrier(&lib);
    return wrong != 0 ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gloo_coll_perf: rank %d: %s\n", lib.rank, e.what());
    return 3;
  }
}
