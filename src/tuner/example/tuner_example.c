/*
 * An example Meridian tuner plug-in, written against
 * <meridian/meridian_tuner.h> only.
 *
 * It forces algorithms (and optionally channels and chunk) for ranges of
 * sizes, read from the file named by MRD_TUNER_EXAMPLE_CONFIG, one rule a
 * line:
 *
 *     # collective  minBytes  maxBytes  algorithm  [nChannels]  [chunkBytes]
 *     allreduce     0         1M        tree       1            64K
 *     allreduce     1M        max       ring
 *     alltoall      0         16K       bruck
 *     *             0         max       ring       2
 *
 *  - collective: allreduce, broadcast, reduce, allgather, reducescatter,
 *    alltoall, alltoallv, gather, scatter, sendrecv, or * for any;
 *  - minBytes <= size <= maxBytes, the size being nccl-tests' (see
 *    getCollInfo in the header); numbers take K, M, G (binary) suffixes,
 *    maxBytes may be "max";
 *  - algorithm: its cost is set to 0 so it wins (unless another candidate
 *    also costs 0 and comes first);
 *  - nChannels, chunkBytes: used instead of Meridian's choice; "-" or 0
 *    keeps Meridian's.
 * '#' starts a comment. The first rule whose collective and range match
 * and whose algorithm is among the candidates applies; when none does,
 * Meridian's own choice stands. A rule naming an algorithm that does not
 * exist, or that cannot run that collective, simply never applies.
 *
 * Without MRD_TUNER_EXAMPLE_CONFIG the plug-in has one rule, as a demo:
 * allreduce of 1 MiB and more uses ring.
 *
 * The rules are read once in init(); getCollInfo() only scans them, without
 * allocating, and depends on nothing but its arguments and the file: every
 * rank decides the same, as the interface requires (the file must be the
 * same on every host).
 */
#include <errno.h>
#include <limits.h>
#include <meridian/meridian_tuner.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EX_ALGO_NAME_MAX 64
#define EX_ANY_COLL (-1)

typedef struct {
  int coll; /* mrdTunerColl_t or EX_ANY_COLL */
  size_t minBytes, maxBytes;
  char algo[EX_ALGO_NAME_MAX];
  int nChannels;     /* 0: keep */
  size_t chunkBytes; /* 0: keep */
} exRule;

typedef struct {
  mrdTunerLogger_t log;
  exRule* rules;
  int nRules;
} exContext;

#define EX_LOG(ctx, level, ...)                                   \
  do {                                                            \
    if ((ctx)->log) (ctx)->log(level, __FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

static const char* const exCollNames[MRD_TUNER_NUM_COLLS] = {
    "allreduce", "broadcast", "reduce",  "allgather", "reducescatter",
    "alltoall",  "alltoallv", "gather", "scatter",   "sendrecv"};

static int exSameWord(const char* a, const char* b) {
  for (; *a != '\0' && *b != '\0'; ++a, ++b) {
    char x = *a, y = *b;
    if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
    if (x != y) return 0;
  }
  return *a == *b;
}

/* 1 on success. */
static int exParseColl(const char* s, int* out) {
  int i;
  if (strcmp(s, "*") == 0) {
    *out = EX_ANY_COLL;
    return 1;
  }
  for (i = 0; i < MRD_TUNER_NUM_COLLS; ++i) {
    if (exSameWord(s, exCollNames[i])) {
      *out = i;
      return 1;
    }
  }
  return 0;
}

/* A byte count with an optional K/M/G suffix; "max" if allowMax. 1 on success. */
static int exParseBytes(const char* s, int allowMax, size_t* out) {
  char* end = NULL;
  unsigned long long v;
  unsigned long long mult = 1;
  if (allowMax && exSameWord(s, "max")) {
    *out = SIZE_MAX;
    return 1;
  }
  if (*s < '0' || *s > '9') return 0;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno != 0) return 0;
  if (*end == 'k' || *end == 'K') {
    mult = 1ull << 10;
    ++end;
  } else if (*end == 'm' || *end == 'M') {
    mult = 1ull << 20;
    ++end;
  } else if (*end == 'g' || *end == 'G') {
    mult = 1ull << 30;
    ++end;
  }
  if (*end != '\0') return 0;
  if (v > (unsigned long long)SIZE_MAX / mult) return 0;
  *out = (size_t)(v * mult);
  return 1;
}

static int exKeep(const char* s) { return strcmp(s, "-") == 0; }

static mrdResult_t exAddRule(exContext* ctx, const exRule* r) {
  exRule* grown = (exRule*)realloc(ctx->rules, (size_t)(ctx->nRules + 1) * sizeof(exRule));
  if (grown == NULL) {
    EX_LOG(ctx, MRD_TUNER_LOG_WARN, "example tuner: out of memory");
    return mrdSystemError;
  }
  ctx->rules = grown;
  ctx->rules[ctx->nRules++] = *r;
  return mrdSuccess;
}

/* Parses one line (comments already cut off); *rule filled when *isRule. */
static mrdResult_t exParseLine(exContext* ctx, const char* path, int lineNo, char* line,
                               exRule* rule, int* isRule) {
  char f[7][EX_ALGO_NAME_MAX];
  int n = sscanf(line, "%63s %63s %63s %63s %63s %63s %63s", f[0], f[1], f[2], f[3], f[4], f[5],
                 f[6]);
  *isRule = 0;
  if (n <= 0) return mrdSuccess; /* blank */
  if (n < 4 || n > 6) {
    EX_LOG(ctx, MRD_TUNER_LOG_WARN,
           "example tuner: %s:%d: expected 'collective minBytes maxBytes algorithm "
           "[nChannels] [chunkBytes]', got %d fields",
           path, lineNo, n);
    return mrdInvalidArgument;
  }
  memset(rule, 0, sizeof *rule);
  if (!exParseColl(f[0], &rule->coll)) {
    EX_LOG(ctx, MRD_TUNER_LOG_WARN, "example tuner: %s:%d: unknown collective '%s'", path, lineNo,
           f[0]);
    return mrdInvalidArgument;
  }
  if (!exParseBytes(f[1], 0, &rule->minBytes) || !exParseBytes(f[2], 1, &rule->maxBytes) ||
      rule->minBytes > rule->maxBytes) {
    EX_LOG(ctx, MRD_TUNER_LOG_WARN, "example tuner: %s:%d: bad size range '%s %s'", path, lineNo,
           f[1], f[2]);
    return mrdInvalidArgument;
  }
  memcpy(rule->algo, f[3], sizeof rule->algo);
  if (n >= 5 && !exKeep(f[4])) {
    char* end = NULL;
    long v;
    errno = 0;
    v = strtol(f[4], &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > INT_MAX || f[4][0] == '-') {
      EX_LOG(ctx, MRD_TUNER_LOG_WARN, "example tuner: %s:%d: bad nChannels '%s'", path, lineNo,
             f[4]);
      return mrdInvalidArgument;
    }
    rule->nChannels = (int)v;
  }
  if (n >= 6 && !exKeep(f[5]) && !exParseBytes(f[5], 0, &rule->chunkBytes)) {
    EX_LOG(ctx, MRD_TUNER_LOG_WARN, "example tuner: %s:%d: bad chunkBytes '%s'", path, lineNo,
           f[5]);
    return mrdInvalidArgument;
  }
  *isRule = 1;
  return mrdSuccess;
}

static mrdResult_t exReadConfig(exContext* ctx, const char* path) {
  char line[512];
  int lineNo = 0;
  mrdResult_t rc = mrdSuccess;
  FILE* fp = fopen(path, "r");
  if (fp == NULL) {
    EX_LOG(ctx, MRD_TUNER_LOG_WARN, "example tuner: cannot open MRD_TUNER_EXAMPLE_CONFIG %s: %s",
           path, strerror(errno));
    return mrdSystemError;
  }
  while (rc == mrdSuccess && fgets(line, sizeof line, fp) != NULL) {
    exRule rule;
    int isRule = 0;
    char* hash;
    ++lineNo;
    if (strchr(line, '\n') == NULL && !feof(fp)) {
      EX_LOG(ctx, MRD_TUNER_LOG_WARN, "example tuner: %s:%d: line too long", path, lineNo);
      rc = mrdInvalidArgument;
      break;
    }
    hash = strchr(line, '#');
    if (hash != NULL) *hash = '\0';
    rc = exParseLine(ctx, path, lineNo, line, &rule, &isRule);
    if (rc == mrdSuccess && isRule) rc = exAddRule(ctx, &rule);
  }
  if (rc == mrdSuccess && ferror(fp)) {
    EX_LOG(ctx, MRD_TUNER_LOG_WARN, "example tuner: error reading %s", path);
    rc = mrdSystemError;
  }
  fclose(fp);
  return rc;
}

static mrdResult_t exDestroy(void* context) {
  exContext* ctx = (exContext*)context;
  if (ctx != NULL) {
    free(ctx->rules);
    free(ctx);
  }
  return mrdSuccess;
}

static mrdResult_t exInit(size_t nRanks, size_t nHosts, mrdTunerLogger_t logFn, void** context) {
  const char* path = getenv("MRD_TUNER_EXAMPLE_CONFIG");
  mrdResult_t rc;
  exContext* ctx = (exContext*)calloc(1, sizeof(exContext));
  *context = NULL;
  if (ctx == NULL) return mrdSystemError;
  ctx->log = logFn;
  if (path != NULL && path[0] != '\0') {
    rc = exReadConfig(ctx, path);
    if (rc == mrdSuccess) {
      EX_LOG(ctx, MRD_TUNER_LOG_INFO, "example tuner: %d rule(s) from %s (%zu ranks, %zu hosts)",
             ctx->nRules, path, nRanks, nHosts);
    }
  } else {
    exRule demo;
    memset(&demo, 0, sizeof demo);
    demo.coll = MRD_TUNER_ALLREDUCE;
    demo.minBytes = (size_t)1 << 20;
    demo.maxBytes = SIZE_MAX;
    strcpy(demo.algo, "ring");
    rc = exAddRule(ctx, &demo);
    if (rc == mrdSuccess) {
      EX_LOG(ctx, MRD_TUNER_LOG_INFO,
             "example tuner: no MRD_TUNER_EXAMPLE_CONFIG, allreduce of 1 MiB and more uses ring");
    }
  }
  if (rc != mrdSuccess) {
    exDestroy(ctx);
    return rc;
  }
  *context = ctx;
  return mrdSuccess;
}

static mrdResult_t exGetCollInfo(void* context, mrdTunerColl_t collType, size_t nBytes,
                                 int numAlgos, const char* const* algoNames, float* costUs,
                                 int* nChannels, size_t* chunkBytes) {
  const exContext* ctx = (const exContext*)context;
  int r, a;
  if (ctx == NULL) return mrdInternalError;
  for (r = 0; r < ctx->nRules; ++r) {
    const exRule* rule = &ctx->rules[r];
    if (rule->coll != EX_ANY_COLL && rule->coll != (int)collType) continue;
    if (nBytes < rule->minBytes || nBytes > rule->maxBytes) continue;
    for (a = 0; a < numAlgos; ++a) {
      if (strcmp(algoNames[a], rule->algo) == 0) break;
    }
    if (a == numAlgos) continue; /* not a candidate here: the next rule may apply */
    costUs[a] = 0.0f;
    if (rule->nChannels > 0) *nChannels = rule->nChannels;
    if (rule->chunkBytes > 0) *chunkBytes = rule->chunkBytes;
    return mrdSuccess;
  }
  return mrdSuccess;
}

__attribute__((visibility("default"))) const mrdTuner_v1_t mrdTunerPlugin_v1 = {
    "example", exInit, exGetCollInfo, exDestroy};
