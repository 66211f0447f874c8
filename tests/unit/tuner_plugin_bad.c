/* Broken tuner plug-ins for the loader's error paths (tuner_plugin_test),
 * by MRD_TEST_TUNER_MODE:
 *   0  a library without the mrdTunerPlugin_v1 symbol;
 *   1  a plug-in whose init() fails (after a WARN line);
 *   2  a plug-in whose getCollInfo() fails (after a WARN line); it counts
 *      its live contexts in mrdTestTunerLive, so a test can see destroy();
 *   3  a table with a NULL getCollInfo. */
#include <meridian/meridian_tuner.h>

#ifndef MRD_TEST_TUNER_MODE
#define MRD_TEST_TUNER_MODE 0
#endif

#if MRD_TEST_TUNER_MODE == 0
__attribute__((visibility("default"))) int mrdNotATunerPlugin = 1;
#else
__attribute__((visibility("default"))) int mrdTestTunerLive = 0;

static mrdTunerLogger_t badLog = 0;
static int badContext = 0;

static mrdResult_t badInit(size_t nRanks, size_t nHosts, mrdTunerLogger_t logFn, void** context) {
  (void)nRanks;
  (void)nHosts;
  __atomic_store_n(&badLog, logFn, __ATOMIC_RELAXED);  /* ranks are threads of one process */
#if MRD_TEST_TUNER_MODE == 1
  (void)context;
  if (logFn) logFn(MRD_TUNER_LOG_WARN, __FILE__, __LINE__, "no tuning table (test plug-in)");
  return mrdSystemError;
#else
  __atomic_add_fetch(&mrdTestTunerLive, 1, __ATOMIC_SEQ_CST);
  *context = &badContext;
  return mrdSuccess;
#endif
}

#if MRD_TEST_TUNER_MODE != 3
static mrdResult_t badGetCollInfo(void* context, mrdTunerColl_t collType, size_t nBytes,
                                  int numAlgos, const char* const* algoNames, float* costUs,
                                  int* nChannels, size_t* chunkBytes) {
  (void)context;
  (void)numAlgos;
  (void)algoNames;
  (void)costUs;
  (void)nChannels;
  (void)chunkBytes;
  mrdTunerLogger_t log = __atomic_load_n(&badLog, __ATOMIC_RELAXED);
  if (log) {
    log(MRD_TUNER_LOG_WARN, __FILE__, __LINE__,
           "refusing collective %d of %zu bytes (test plug-in)", (int)collType, nBytes);
  }
  return mrdInternalError;
}
#endif

static mrdResult_t badDestroy(void* context) {
  if (context == &badContext) __atomic_sub_fetch(&mrdTestTunerLive, 1, __ATOMIC_SEQ_CST);
  return mrdSuccess;
}

__attribute__((visibility("default"))) const mrdTuner_v1_t mrdTunerPlugin_v1 = {
#if MRD_TEST_TUNER_MODE == 1
    "badinit", badInit, badGetCollInfo, badDestroy
#elif MRD_TEST_TUNER_MODE == 2
    "badcall", badInit, badGetCollInfo, badDestroy
#else
    "nullentry", badInit, 0, badDestroy
#endif
};
#endif
