/* perf_common.h: the part of the peer drivers (mpi_coll_perf, gloo_coll_perf)
 * that does not depend on the library: flags, sizes, data, checking, timing
 * and the nccl-tests table, all as Meridian's *_perf benchmarks do them
 * (benchmarks/common), so the two tables line up row by row.
 *
 * A driver fills a cmp_lib_t (rank, size, four callbacks) and calls
 * cmp_main(). Header-only, C99 and C++17.
 *
 * What matches Meridian's benchmarks:
 *   - sizes: -b, then x -f (or + -i) while <= -e; the size column is the
 *     larger of the send and receive buffer, the per-rank block of the
 *     collectives that split the buffer is rounded down to 16 bytes;
 *   - timing: all sizes warmed up first (-w calls each), then per size one
 *     untimed call, a barrier, -n back-to-back calls; the time is their
 *     total / -n, combined over ranks by -a (0 rank 0, 1 mean (default),
 *     2 min, 3 max);
 *   - checking: -c checks per size after the timing, each with new data,
 *     wrong elements summed over the ranks;
 *   - -B MS (not in Meridian's benchmarks; compare.py bounds Meridian's
 *     iterations by its size bands instead): a per-size time budget. The
 *     warm-up of a size stops after max(1, MS / first call) calls, and
 *     the timed calls are min(-n, max(1, MS / mean warm-up call)), the
 *     times taken as the slowest rank's, so every rank runs the same
 *     count; the footer lists the counts ("# Iterations: size:n ...");
 *   - busbw factors: allreduce 2(n-1)/n; allgather, reduce_scatter,
 *     alltoall (n-1)/n; broadcast 1.
 * Only the out-of-place variant is timed. Data are float32; reductions sum
 * small integers (exact in any order), data movement compares hashed
 * integers below 2^24 (exact in float32).
 */
#ifndef MRD_COMPARE_PERF_COMMON_H
#define MRD_COMPARE_PERF_COMMON_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum {
  CMP_ALLREDUCE = 0,
  CMP_ALLGATHER,
  CMP_REDUCE_SCATTER,
  CMP_BROADCAST,
  CMP_ALLTOALL,
  CMP_NUM_COLLS
} cmp_coll_t;

static const char *const cmp_coll_names[CMP_NUM_COLLS] = {
    "allreduce", "allgather", "reduce_scatter", "broadcast", "alltoall"};

/* Element counts of one call (as Meridian's Counts). */
typedef struct {
  size_t send;  /* elements of this rank's send buffer */
  size_t recv;  /* elements of this rank's receive buffer */
  size_t param; /* the count column: per-rank block, or the whole buffer */
  size_t bytes; /* the size column */
} cmp_counts_t;

typedef enum { CMP_RED_SUM = 0, CMP_RED_MIN, CMP_RED_MAX } cmp_red_t;

typedef struct cmp_lib cmp_lib_t;
struct cmp_lib {
  int rank;
  int nranks;
  const char *program;     /* for messages */
  char description[160];   /* library and version, for the header */
  void *impl;
  int checking;            /* 1 while a check call runs (set by cmp_main) */
  int root_keeps_recv;     /* broadcast's root does not write its receive buffer */
  /* One collective call; 0 on success, else the driver printed why. */
  int (*run)(cmp_lib_t *lib, cmp_coll_t coll, const cmp_counts_t *c, int root,
             const float *send, float *recv);
  void (*barrier)(cmp_lib_t *lib);
  /* In-place allreduce of n doubles over all ranks. */
  void (*allreduce_d)(cmp_lib_t *lib, double *v, int n, cmp_red_t op);
};

typedef struct {
  cmp_coll_t coll;
  size_t min_bytes, max_bytes, step_factor, step_bytes;
  int iters, warmup, check, average, root, blocking;
  double budget_ms; /* -B: per-size time budget, 0 = none */
} cmp_opts_t;

static double cmp_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* "8", "64K", "1.5M", "2G" (binary units). -1 when malformed. */
static double cmp_parse_size(const char *text) {
  char *end = NULL;
  double v = strtod(text, &end);
  double unit = 1.0;
  if (end == text || v < 0) return -1.0;
  switch (*end) {
    case '\0': break;
    case 'k': case 'K': unit = 1024.0; ++end; break;
    case 'm': case 'M': unit = 1024.0 * 1024.0; ++end; break;
    case 'g': case 'G': unit = 1024.0 * 1024.0 * 1024.0; ++end; break;
    default: return -1.0;
  }
  return *end == '\0' ? v * unit : -1.0;
}

static int cmp_parse_coll(const char *name) {
  static const char *const aliases[CMP_NUM_COLLS] = {"all_reduce", "all_gather", "reducescatter",
                                                     "bcast", "all_to_all"};
  for (int c = 0; c < CMP_NUM_COLLS; ++c) {
    if (!strcmp(name, cmp_coll_names[c]) || !strcmp(name, aliases[c])) return c;
  }
  return -1;
}

static double cmp_bus_factor(cmp_coll_t coll, int n) {
  switch (coll) {
    case CMP_ALLREDUCE: return 2.0 * (n - 1) / n;
    case CMP_BROADCAST: return 1.0;
    default: return (double)(n - 1) / n;
  }
}

static cmp_counts_t cmp_counts(cmp_coll_t coll, size_t bytes, int n) {
  const size_t count = bytes / sizeof(float);
  const size_t per = (count / (size_t)n) & ~(size_t)3; /* 16-byte blocks */
  cmp_counts_t c;
  switch (coll) {
    case CMP_ALLGATHER: c.send = per; c.recv = per * n; c.param = per; break;
    case CMP_REDUCE_SCATTER: c.send = per * n; c.recv = per; c.param = per; break;
    case CMP_ALLTOALL: c.send = per * n; c.recv = per * n; c.param = per; break;
    default: c.send = count; c.recv = count; c.param = count; break;
  }
  c.bytes = (c.send > c.recv ? c.send : c.recv) * sizeof(float);
  return c;
}

/* Reductions: small integers 1..31, so any sum over up to 2^19 ranks is exact. */
static float cmp_red_value(int rank, size_t i, unsigned seed) {
  return (float)((i * 7u + (size_t)rank * 13u + seed * 5u) % 31u + 1u);
}

/* Data movement: a hash of (rank, index, seed) below 2^24. */
static float cmp_mov_value(int rank, size_t i, unsigned seed) {
  uint64_t x = ((uint64_t)(unsigned)rank << 40) ^ ((uint64_t)seed << 32) ^ (uint64_t)i;
  x ^= x >> 31;
  x *= 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  return (float)(x & 0xFFFFFFu);
}

static void cmp_fill(cmp_coll_t coll, int rank, const cmp_counts_t *c, unsigned seed, float *send) {
  const int reduces = coll == CMP_ALLREDUCE || coll == CMP_REDUCE_SCATTER;
  for (size_t i = 0; i < c->send; ++i) {
    send[i] = reduces ? cmp_red_value(rank, i, seed) : cmp_mov_value(rank, i, seed);
  }
}

/* Wrong elements in this rank's receive buffer. */
static long long cmp_count_wrong(const cmp_lib_t *lib, cmp_coll_t coll, const cmp_counts_t *c,
                                 int root, unsigned seed, const float *recv) {
  const int n = lib->nranks, me = lib->rank;
  const size_t per = c->param;
  long long wrong = 0;
  for (size_t i = 0; i < c->recv; ++i) {
    float want = 0.0f;
    switch (coll) {
      case CMP_ALLREDUCE:
      case CMP_REDUCE_SCATTER: {
        const size_t at = coll == CMP_ALLREDUCE ? i : (size_t)me * per + i;
        for (int r = 0; r < n; ++r) want += cmp_red_value(r, at, seed);
        break;
      }
      case CMP_ALLGATHER: want = cmp_mov_value((int)(i / per), i % per, seed); break;
      case CMP_ALLTOALL:
        want = cmp_mov_value((int)(i / per), (size_t)me * per + i % per, seed);
        break;
      case CMP_BROADCAST: want = cmp_mov_value(root, i, seed); break;
      default: break;
    }
    if (recv[i] != want) ++wrong;
  }
  return wrong;
}

/* 7-character time, 6-character bandwidths, as Meridian's table. */
static void cmp_fit(char *buf, size_t len, double v, int width) {
  static const char *const fmts[] = {"%*.2f", "%*.1f", "%*.0f"};
  for (int k = 0; k < 3; ++k) {
    int w = snprintf(buf, len, fmts[k], width, v);
    if (w <= width) return;
  }
  snprintf(buf, len, width >= 7 ? "%*.1e" : "%*.0e", width, v);
}

static void cmp_usage(const char *prog) {
  printf("USAGE: %s [--coll|-K] allreduce|allgather|reduce_scatter|broadcast|alltoall\n"
         "\t[-b minbytes] [-e maxbytes] [-f stepfactor | -i stepbytes]\n"
         "\t[-n iters] [-w warmup iters] [-c check iters] [-a 0|1|2|3 (rank 0/mean/min/max)]\n"
         "\t[-r root] [-z 0|1 (barrier after each call)] [-B per-size budget ms]\n"
         "\t[-d float] [-o sum] [-t 1] [-g 1]\n"
         "The collective may also be given as the first non-option argument.\n",
         prog);
}

/* 0: parsed; 1: exit 0 (help); 2: exit 2 (error, printed). */
static int cmp_parse_args(int argc, char **argv, cmp_opts_t *o) {
  static const struct option longs[] = {
      {"coll", required_argument, NULL, 'K'}, {"minbytes", required_argument, NULL, 'b'},
      {"maxbytes", required_argument, NULL, 'e'}, {"stepfactor", required_argument, NULL, 'f'},
      {"stepbytes", required_argument, NULL, 'i'}, {"iters", required_argument, NULL, 'n'},
      {"warmup_iters", required_argument, NULL, 'w'}, {"check", required_argument, NULL, 'c'},
      {"average", required_argument, NULL, 'a'}, {"root", required_argument, NULL, 'r'},
      {"blocking", required_argument, NULL, 'z'}, {"budget_ms", required_argument, NULL, 'B'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int ch, coll = -1;
  memset(o, 0, sizeof(*o));
  o->min_bytes = o->max_bytes = 32u << 20;
  o->step_bytes = 1u << 20;
  o->iters = 20;
  o->warmup = 13;
  o->check = 1;
  o->average = 1;
  while ((ch = getopt_long(argc, argv, "K:b:e:f:i:n:w:c:a:r:z:B:d:o:t:g:h", longs, NULL)) != -1) {
    double sz;
    switch (ch) {
      case 'K':
        if ((coll = cmp_parse_coll(optarg)) < 0) {
          fprintf(stderr, "%s: unknown collective '%s'\n", argv[0], optarg);
          return 2;
        }
        break;
      case 'b': case 'e': case 'i':
        sz = cmp_parse_size(optarg);
        if (sz < (ch == 'i' ? 1 : 0)) {
          fprintf(stderr, "%s: invalid size '%s' for -%c\n", argv[0], optarg, ch);
          return 2;
        }
        if (ch == 'b') o->min_bytes = (size_t)sz;
        else if (ch == 'e') o->max_bytes = (size_t)sz;
        else { o->step_bytes = (size_t)sz; o->step_factor = 0; }
        break;
      case 'f': o->step_factor = (size_t)strtoul(optarg, NULL, 0); break;
      case 'n': o->iters = atoi(optarg); break;
      case 'w': o->warmup = atoi(optarg); break;
      case 'c': o->check = atoi(optarg); break;
      case 'a': o->average = atoi(optarg); break;
      case 'r': o->root = atoi(optarg); break;
      case 'z': o->blocking = atoi(optarg); break;
      case 'B': o->budget_ms = atof(optarg); break;
      case 'd':
        if (strcmp(optarg, "float") && strcmp(optarg, "float32")) {
          fprintf(stderr, "%s: only -d float is supported\n", argv[0]);
          return 2;
        }
        break;
      case 'o':
        if (strcmp(optarg, "sum")) {
          fprintf(stderr, "%s: only -o sum is supported\n", argv[0]);
          return 2;
        }
        break;
      case 't': case 'g':
        if (atoi(optarg) != 1) {
          fprintf(stderr, "%s: -%c must be 1 (one rank per process)\n", argv[0], ch);
          return 2;
        }
        break;
      case 'h': cmp_usage(argv[0]); return 1;
      default: cmp_usage(argv[0]); return 2;
    }
  }
  if (coll < 0 && optind < argc) coll = cmp_parse_coll(argv[optind++]);
  if (coll < 0 || optind < argc) {
    fprintf(stderr, "%s: name one collective (allreduce, allgather, reduce_scatter, broadcast, "
                    "alltoall)\n", argv[0]);
    return 2;
  }
  o->coll = (cmp_coll_t)coll;
  if (o->min_bytes > o->max_bytes || o->iters < 1 || o->warmup < 0 || o->check < 0 ||
      o->average < 0 || o->average > 3 || o->root < 0 || o->budget_ms < 0) {
    fprintf(stderr, "%s: invalid flags (need -b <= -e, -n >= 1, -w >= 0, -c >= 0, -a 0..3, "
                    "-r >= 0, -B >= 0)\n", argv[0]);
    return 2;
  }
  return 0;
}

static size_t cmp_next_size(const cmp_opts_t *o, size_t s) {
  if (o->step_factor > 1) return s == 0 ? 1 : (s > SIZE_MAX / o->step_factor ? SIZE_MAX : s * o->step_factor);
  return s > SIZE_MAX - o->step_bytes ? SIZE_MAX : s + o->step_bytes;
}

static void *cmp_alloc(size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, 4096, bytes < 64 ? 64 : bytes) != 0) return NULL;
  memset(p, 0, bytes < 64 ? 64 : bytes);
  return p;
}

/* One call; ends the process when the library reports a failure. */
static void cmp_issue(cmp_lib_t *lib, const cmp_opts_t *o, const cmp_counts_t *c,
                      const float *send, float *recv) {
  if (lib->run(lib, o->coll, c, o->root, send, recv) != 0) {
    fprintf(stderr, "%s: rank %d: %s failed\n", lib->program, lib->rank, cmp_coll_names[o->coll]);
    exit(3);
  }
}

static double cmp_combine(cmp_lib_t *lib, int average, double v) {
  if (average == 0) {
    if (lib->rank != 0) v = 0.0;
    lib->allreduce_d(lib, &v, 1, CMP_RED_SUM);
    return v;
  }
  lib->allreduce_d(lib, &v, 1, average == 2 ? CMP_RED_MIN : average == 3 ? CMP_RED_MAX : CMP_RED_SUM);
  return average == 1 ? v / lib->nranks : v;
}

/* Runs the sweep; prints the table on rank 0; returns the wrong elements
 * summed over ranks and sizes. */
static long long cmp_main(cmp_lib_t *lib, const cmp_opts_t *o) {
  static const char *const avg_names[] = {"rank 0", "mean over ranks", "min over ranks",
                                          "max over ranks"};
  const int n = lib->nranks;
  const cmp_counts_t cmax = cmp_counts(o->coll, o->max_bytes, n);
  float *send = (float *)cmp_alloc(cmax.send * sizeof(float));
  float *recv = (float *)cmp_alloc(cmax.recv * sizeof(float));
  long long total_wrong = 0;
  double bw_sum = 0.0;
  int bw_rows = 0;
  size_t nsizes = 0, k;
  int *iters;
  if (!send || !recv) {
    fprintf(stderr, "%s: rank %d: out of memory\n", lib->program, lib->rank);
    exit(3);
  }
  if (o->root >= n) {
    fprintf(stderr, "%s: root %d is not a rank (%d ranks)\n", lib->program, o->root, n);
    exit(2);
  }
  if (lib->rank == 0) {
    printf("# %s: %s  library %s  nranks %d\n", lib->program, cmp_coll_names[o->coll],
           lib->description, n);
    printf("# minBytes %zu maxBytes %zu step: %zu(%s) warmup iters: %d iters: %d validation: %d "
           "time: %s%s",
           o->min_bytes, o->max_bytes, o->step_factor > 1 ? o->step_factor : o->step_bytes,
           o->step_factor > 1 ? "factor" : "bytes", o->warmup, o->iters, o->check,
           avg_names[o->average], o->blocking ? " (barrier after each call)" : "");
    if (o->budget_ms > 0) printf(" budget: %g ms per size", o->budget_ms);
    printf("\n");
    printf("#\n# %10s  %12s  %8s  %6s  %6s           out-of-place\n", "", "", "", "", "");
    printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s\n", "size", "count", "type", "redop",
           "root", "time", "algbw", "busbw", "#wrong");
    printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s\n", "(B)", "(elements)", "", "", "",
           "(us)", "(GB/s)", "(GB/s)", "");
    fflush(stdout);
  }
  cmp_fill(o->coll, lib->rank, &cmax, 99u, send);
  for (size_t s = o->min_bytes; s <= o->max_bytes; s = cmp_next_size(o, s)) ++nsizes;
  iters = (int *)calloc(nsizes + 1, sizeof(int));
  if (!iters) exit(3);

  /* Warm-up: every size first, as Meridian's benchmarks; with -B, as many
   * calls as fit the budget, and the mean call sets the timed count. */
  k = 0;
  for (size_t s = o->min_bytes; s <= o->max_bytes; s = cmp_next_size(o, s), ++k) {
    const cmp_counts_t c = cmp_counts(o->coll, s, n);
    int calls = o->warmup;
    double t0, first, est = 0.0;
    iters[k] = o->iters;
    if (c.param == 0 || calls == 0) continue;
    t0 = cmp_now();
    cmp_issue(lib, o, &c, send, recv);
    first = cmp_now() - t0;
    if (o->budget_ms > 0) {
      lib->allreduce_d(lib, &first, 1, CMP_RED_MAX);
      if (first > 0 && calls > o->budget_ms * 1e-3 / first) calls = (int)(o->budget_ms * 1e-3 / first);
      if (calls < 1) calls = 1;
    }
    t0 = cmp_now();
    for (int i = 1; i < calls; ++i) cmp_issue(lib, o, &c, send, recv);
    if (o->budget_ms > 0) {
      est = calls > 1 ? (cmp_now() - t0) / (calls - 1) : first;
      lib->allreduce_d(lib, &est, 1, CMP_RED_MAX);
      if (est > 0 && iters[k] > o->budget_ms * 1e-3 / est) iters[k] = (int)(o->budget_ms * 1e-3 / est);
      if (iters[k] < 1) iters[k] = 1;
    }
  }

  k = 0;
  for (size_t s = o->min_bytes; s <= o->max_bytes; s = cmp_next_size(o, s), ++k) {
    const cmp_counts_t c = cmp_counts(o->coll, s, n);
    const int nit = iters[k];
    const int reduces = o->coll == CMP_ALLREDUCE || o->coll == CMP_REDUCE_SCATTER;
    char tbuf[32], abuf[32], bbuf[32];
    double t0, sec, algbw, busbw;
    long long wrong = 0;
    if (c.param == 0) {
      if (lib->rank == 0) printf("# size %zu: no element per rank, skipped\n", s);
      continue;
    }
    if (o->check) cmp_fill(o->coll, lib->rank, &c, 99u, send);
    cmp_issue(lib, o, &c, send, recv); /* one untimed call, then line up */
    lib->barrier(lib);
    t0 = cmp_now();
    for (int i = 0; i < nit; ++i) {
      cmp_issue(lib, o, &c, send, recv);
      if (o->blocking) lib->barrier(lib);
    }
    sec = cmp_combine(lib, o->average, (cmp_now() - t0) / nit);
    algbw = sec > 0 ? (double)c.bytes / 1e9 / sec : 0.0;
    busbw = algbw * cmp_bus_factor(o->coll, n);
    for (int k = 0; k < o->check; ++k) {
      const unsigned seed = (unsigned)k + 1u;
      double w;
      cmp_fill(o->coll, lib->rank, &c, seed, send);
      for (size_t i = 0; i < c.recv; ++i) recv[i] = -1.0f; /* poison */
      lib->checking = 1;
      cmp_issue(lib, o, &c, send, recv);
      lib->checking = 0;
      w = (o->coll == CMP_BROADCAST && lib->rank == o->root && lib->root_keeps_recv)
              ? 0.0
              : (double)cmp_count_wrong(lib, o->coll, &c, o->root, seed, recv);
      lib->allreduce_d(lib, &w, 1, CMP_RED_SUM);
      wrong = (long long)w;
      if (wrong) break;
    }
    if (o->check) cmp_fill(o->coll, lib->rank, &c, 99u, send);
    total_wrong += wrong;
    bw_sum += busbw;
    ++bw_rows;
    if (lib->rank == 0) {
      cmp_fit(tbuf, sizeof tbuf, sec * 1e6, 7);
      cmp_fit(abuf, sizeof abuf, algbw, 6);
      cmp_fit(bbuf, sizeof bbuf, busbw, 6);
      printf("%12zu  %12zu  %8s  %6s  %6d  %7s  %6s  %6s  ", c.bytes, c.param, "float",
             reduces ? "sum" : "none", o->coll == CMP_BROADCAST ? o->root : -1, tbuf, abuf, bbuf);
      if (o->check) printf("%6lld\n", wrong);
      else printf("   N/A\n");
      fflush(stdout);
    }
  }
  if (lib->rank == 0) {
    printf("# Out of bounds values : %lld %s\n", total_wrong, total_wrong ? "FAILED" : "OK");
    printf("# Avg bus bandwidth    : %g\n", bw_rows ? bw_sum / bw_rows : 0.0);
    printf("# Iterations:");
    k = 0;
    for (size_t s = o->min_bytes; s <= o->max_bytes; s = cmp_next_size(o, s), ++k) {
      if (cmp_counts(o->coll, s, n).param != 0) printf(" %zu:%d", cmp_counts(o->coll, s, n).bytes, iters[k]);
    }
    printf("\n#\n");
    fflush(stdout);
  }
  free(iters);
  free(send);
  free(recv);
  return total_wrong;
}

#endif /* MRD_COMPARE_PERF_COMMON_H */
