/* Broken net plug-ins for the loader's error paths (net_plugin_test):
 * built without MRD_TEST_EXPORT_PLUGIN it is a library without the
 * mrdNetPlugin_v1 symbol; with it, a plug-in whose init() fails. */
#include <meridian/meridian_net.h>

#ifdef MRD_TEST_EXPORT_PLUGIN
static mrdResult_t badInit(mrdNetLogger_t logger) {
  if (logger) logger(MRD_NET_LOG_WARN, __FILE__, __LINE__, "no usable device (test plug-in)");
  return mrdSystemError;
}
static mrdResult_t badDevices(int* n) {
  *n = 0;
  return mrdSuccess;
}
static mrdResult_t badProps(int d, mrdNetProperties_v1_t* p) {
  (void)d;
  (void)p;
  return mrdInternalError;
}
static mrdResult_t badListen(int d, void* h, void** l) {
  (void)d;
  (void)h;
  (void)l;
  return mrdInternalError;
}
static mrdResult_t badConnect(int d, void* h, void** s) {
  (void)d;
  (void)h;
  (void)s;
  return mrdInternalError;
}
static mrdResult_t badAccept(void* l, void** r) {
  (void)l;
  (void)r;
  return mrdInternalError;
}
static mrdResult_t badRegMr(void* c, void* d, size_t s, int t, void** m) {
  (void)c;
  (void)d;
  (void)s;
  (void)t;
  (void)m;
  return mrdInternalError;
}
static mrdResult_t badDeregMr(void* c, void* m) {
  (void)c;
  (void)m;
  return mrdInternalError;
}
static mrdResult_t badPost(void* c, void* d, size_t s, uint64_t t, void* m, void** r) {
  (void)c;
  (void)d;
  (void)s;
  (void)t;
  (void)m;
  (void)r;
  return mrdInternalError;
}
static mrdResult_t badTest(void* r, int* d, size_t* s) {
  (void)r;
  (void)d;
  (void)s;
  return mrdInternalError;
}
static mrdResult_t badClose(void* c) {
  (void)c;
  return mrdSuccess;
}

__attribute__((visibility("default"))) const mrdNet_v1_t mrdNetPlugin_v1 = {
    "badinit",  badInit, badDevices, badProps, badListen, badConnect, badAccept, badRegMr,
    badDeregMr, badPost, badPost,    badTest,  badClose,  badClose,   badClose,
};
#else
__attribute__((visibility("default"))) int mrdNotANetPlugin = 1;
#endif
