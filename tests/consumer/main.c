/* The README's example, compiled as C99 against the installed package. */
#include <stdio.h>
#include <meridian/meridian.h>
/* The net plug-in header must be installed and compile as C99 too. */
#include <meridian/meridian_net.h>
typedef char mrdNetHandleSizeCheck[MRD_NET_HANDLE_MAXSIZE == 128 && sizeof(mrdNet_v1_t) > 0 ? 1 : -1];
/* So must the tuner plug-in header. */
#include <meridian/meridian_tuner.h>
typedef char mrdTunerCheck[MRD_TUNER_NUM_COLLS == 10 && sizeof(mrdTuner_v1_t) > 0 ? 1 : -1];

int main(void) {
  mrdComm_t comm;
  if (mrdCommInitFromEnv(&comm) != mrdSuccess) {
    fprintf(stderr, "init: %s\n", mrdGetLastError(NULL));
    return 1;
  }
  int rank, n;
  mrdCommUserRank(comm, &rank);
  mrdCommCount(comm, &n);
  float x[4] = {rank, rank, rank, rank};
  mrdResult_t r = mrdAllReduce(x, x, 4, mrdFloat32, mrdSum, comm, NULL);
  if (r != mrdSuccess) fprintf(stderr, "allreduce: %s\n", mrdGetLastError(comm));
  else printf("rank %d of %d: %g\n", rank, n, x[0]); /* n(n-1)/2 */
  mrdCommDestroy(comm);
  return (r == mrdSuccess && x[0] == n * (n - 1) / 2.0f) ? 0 : 1;
}
