#include "common/bench.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "common/data_check.h"

namespace mrdperf {
namespace {

using Clock = std::chrono::steady_clock;

// Seed of the data every timed run starts from (later checks use 1, 2, ...).
constexpr uint64_t kTimingSeed = 99;

// One (type, op, root) combination of a test, and the current size.
struct Case {
  mrdDataType_t type;
  int op;             // as selected (kMulSum included); mrdSum for data movement
  mrdRedOp_t red_op;  // what the calls take
  int root;           // -1 for collectives without a root
  Counts counts;
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void Sync(const RankContext& ctx) {
  if (ctx.stream != nullptr) {
    CheckCall(ctx.rank, ctx.comm, "mrdStreamSynchronize", mrdStreamSynchronize(ctx.stream));
  }
}

void Barrier(const RankContext& ctx) {
  CheckCall(ctx.rank, ctx.comm, "mrdBarrier", mrdBarrier(ctx.comm, nullptr));
}

// Where the operands of the current mode live.
struct Buffers {
  unsigned char* send;
  unsigned char* recv;
};

Buffers Locate(const RankContext& ctx, const Case& c, bool in_place) {
  if (!in_place) return {ctx.sendbuf, ctx.recvbuf};
  const size_t es = TypeSize(c.type);
  const size_t r = static_cast<size_t>(ctx.rank);
  return {ctx.recvbuf + r * c.counts.send_inplace_offset * es,
          ctx.recvbuf + r * c.counts.recv_inplace_offset * es};
}

void Issue(const RankContext& ctx, const Case& c, const Buffers& b) {
  RunArgs args{b.send, b.recv,   c.counts.param, c.type,   c.red_op,
               c.root, ctx.rank, ctx.nranks,     ctx.comm, ctx.stream};
  ctx.spec->run(args);
}

// Fills the send side with the pattern of `seed` and poisons what the
// call writes.
void Prepare(const RankContext& ctx, const Case& c, bool in_place, uint64_t seed) {
  const size_t es = TypeSize(c.type);
  const Buffers b = Locate(ctx, c, in_place);
  if (in_place) {
    const size_t r = static_cast<size_t>(ctx.rank);
    const size_t end = std::max(r * c.counts.send_inplace_offset + c.counts.send,
                                r * c.counts.recv_inplace_offset + c.counts.recv);
    Pattern::Poison(ctx.recvbuf, end * es);
  } else {
    Pattern::Poison(b.recv, c.counts.recv * es);
  }
  Pattern pattern(c.type, ctx.spec->reduces ? c.op : Pattern::kNoOp, ctx.nranks, seed);
  pattern.Fill(b.send, c.counts.send, ctx.rank, 0);
}

// Wrong elements of the last call, summed over all ranks.
int64_t CheckOnce(RankContext* ctx, const Case& c, bool in_place) {
  const uint64_t seed = ++ctx->check_seed;
  Prepare(*ctx, c, in_place, seed);
  Issue(*ctx, c, Locate(*ctx, c, in_place));
  Sync(*ctx);
  int64_t wrong = 0;
  const CollSpec& spec = *ctx->spec;
  if (spec.receives == nullptr || spec.receives(ctx->rank, c.root)) {
    Pattern pattern(c.type, spec.reduces ? c.op : Pattern::kNoOp, ctx->nranks, seed);
    const Layout layout{ctx->rank, ctx->nranks, c.root, c.counts.param};
    wrong = pattern.CountWrong(Locate(*ctx, c, in_place).recv, c.counts.recv, layout, spec.source);
  }
  if (wrong != 0) ++ctx->local_errors;
  CheckCall(ctx->rank, ctx->comm, "mrdAllReduce",
            mrdAllReduce(&wrong, &wrong, 1, mrdInt64, mrdSum, ctx->comm, nullptr));
  return wrong;
}

// The -a combination of every rank's value (identical on all ranks after).
double Combine(const RankContext& ctx, double value) {
  const int average = ctx.opts->average;
  mrdResult_t res;
  if (average == 0) {
    res = mrdBroadcast(&value, &value, 1, mrdFloat64, 0, ctx.comm, nullptr);
  } else {
    const mrdRedOp_t op = average == 2 ? mrdMin : average == 3 ? mrdMax : mrdSum;
    res = mrdAllReduce(&value, &value, 1, mrdFloat64, op, ctx.comm, nullptr);
  }
  CheckCall(ctx.rank, ctx.comm, average == 0 ? "mrdBroadcast" : "mrdAllReduce", res);
  return average == 1 ? value / ctx.nranks : value;
}

ModeResult BenchTime(RankContext* ctx, const Case& c, bool in_place) {
  const Options& o = *ctx->opts;
  const Buffers b = Locate(*ctx, c, in_place);
  ctx->watchdog->Arm(ctx->slot, ctx->rank, in_place ? "in-place run" : "out-of-place run");
  if (o.check) Prepare(*ctx, c, in_place, kTimingSeed);
  Issue(*ctx, c, b);  // one untimed call, then line every rank up
  Sync(*ctx);
  Barrier(*ctx);

  const Clock::time_point start = Clock::now();
  for (int iter = 0; iter < o.iters; ++iter) {
    if (o.agg_iters > 1) CheckCall(ctx->rank, nullptr, "mrdGroupStart", mrdGroupStart());
    for (int a = 0; a < o.agg_iters; ++a) Issue(*ctx, c, b);
    if (o.agg_iters > 1) CheckCall(ctx->rank, ctx->comm, "mrdGroupEnd", mrdGroupEnd());
    if (o.blocking) {
      Sync(*ctx);
      Barrier(*ctx);
    }
  }
  const double issue_sec = Seconds(Clock::now() - start);
  Sync(*ctx);
  const double total_sec = Seconds(Clock::now() - start);
  const double ops = static_cast<double>(o.iters) * o.agg_iters;
  const double sec = Combine(*ctx, (o.report_cputime ? issue_sec : total_sec) / ops);

  const size_t bytes = std::max(c.counts.send, c.counts.recv) * TypeSize(c.type);
  ModeResult result{};
  result.time_us = sec * 1e6;
  result.algbw = sec > 0 ? static_cast<double>(bytes) / 1e9 / sec : 0.0;
  result.busbw = result.algbw * ctx->spec->bus_factor(ctx->nranks);
  result.checked = o.check > 0 && (!in_place || ctx->spec->check_in_place);
  for (int i = 0; result.checked && i < o.check; ++i) {
    result.wrong = CheckOnce(ctx, c, in_place);
    if (result.wrong != 0) break;
  }
  ctx->watchdog->Disarm(ctx->slot);
  ctx->busbw_sum += result.busbw;
  ++ctx->busbw_count;
  return result;
}

// The next size of the sweep; SIZE_MAX ends it.
size_t NextSize(size_t size, size_t factor, size_t step) {
  if (factor > 1) {
    if (size == 0) return 1;
    return size > SIZE_MAX / factor ? SIZE_MAX : size * factor;
  }
  return size > SIZE_MAX - step ? SIZE_MAX : size + step;
}

void SetSize(const RankContext& ctx, size_t bytes, Case* c) {
  const size_t es = TypeSize(c->type);
  c->counts = ctx.spec->counts(bytes / es, es, ctx.nranks);
}

void TimeTest(RankContext* ctx, Case c) {
  const Options& o = *ctx->opts;
  if (o.warmup_iters > 0) {
    ctx->watchdog->Arm(ctx->slot, ctx->rank, "warmup");
    // The timed sizes themselves: the library's tuner times its candidate
    // algorithms on each size's first calls (MRD_AUTOTUNE), so those
    // should be warm-up calls.
    for (size_t size = o.min_bytes; size <= o.max_bytes;
         size = NextSize(size, o.step_factor, o.step_bytes)) {
      SetSize(*ctx, size, &c);
      for (int i = 0; i < o.warmup_iters; ++i) Issue(*ctx, c, Locate(*ctx, c, false));
      Sync(*ctx);
    }
    ctx->watchdog->Disarm(ctx->slot);
  }
  const char* op_name = ctx->spec->reduces ? OpName(c.op) : "none";
  for (size_t size = o.min_bytes; size <= o.max_bytes;
       size = NextSize(size, o.step_factor, o.step_bytes)) {
    SetSize(*ctx, size, &c);
    const size_t es = TypeSize(c.type);
    if (ctx->reporter != nullptr) {
      ctx->reporter->BeginRow(std::max(c.counts.send, c.counts.recv) * es, c.counts.param,
                              TypeName(c.type), op_name, c.root);
    }
    for (bool in_place : {false, true}) {
      const ModeResult r = BenchTime(ctx, c, in_place);
      if (ctx->reporter != nullptr) ctx->reporter->Result(r, in_place);
    }
    if (ctx->reporter != nullptr) ctx->reporter->EndRow();
  }
}

// Runs TimeTest for one type and op over the selected roots.
void RunRoots(RankContext* ctx, mrdDataType_t type, int op) {
  Case c{type, op, static_cast<mrdRedOp_t>(op == kMulSum ? mrdSum : op), -1, Counts{}};
  if (op == kMulSum) {
    uint64_t scalar = 0;
    Pattern(type, op, ctx->nranks, 0).Scalar(ctx->rank, &scalar);
    CheckCall(ctx->rank, ctx->comm, "mrdRedOpCreatePreMulSum",
              mrdRedOpCreatePreMulSum(&c.red_op, &scalar, type, mrdScalarHostImmediate, ctx->comm));
  }
  if (!ctx->spec->rooted) {
    TimeTest(ctx, c);
  } else {
    const int first = ctx->opts->root == kAll ? 0 : ctx->opts->root;
    const int last = ctx->opts->root == kAll ? ctx->nranks - 1 : ctx->opts->root;
    for (int root = first; root <= last; ++root) {
      c.root = root;
      TimeTest(ctx, c);
    }
  }
  if (op == kMulSum) {
    CheckCall(ctx->rank, ctx->comm, "mrdRedOpDestroy", mrdRedOpDestroy(c.red_op, ctx->comm));
  }
}

}  // namespace

size_t BufferBytes(const Options& opts, const CollSpec& spec, int nranks) {
  const Counts c = spec.counts(opts.max_bytes, 1, nranks);
  return std::max({c.send, c.recv, static_cast<size_t>(64)});
}

void RunAllTests(RankContext* ctx) {
  const Options& o = *ctx->opts;
  const int first_type = o.type == kAll ? 0 : o.type;
  const int last_type = o.type == kAll ? mrdNumTypes - 1 : o.type;
  for (int t = first_type; t <= last_type; ++t) {
    const mrdDataType_t type = static_cast<mrdDataType_t>(t);
    if (!ctx->spec->reduces) {
      RunRoots(ctx, type, mrdSum);
      continue;
    }
    const int first_op = o.op == kAll ? 0 : o.op;
    const int last_op = o.op == kAll ? kNumTestOps - 1 : o.op;
    for (int op = first_op; op <= last_op; ++op) RunRoots(ctx, type, op);
  }
}

}  // namespace mrdperf
