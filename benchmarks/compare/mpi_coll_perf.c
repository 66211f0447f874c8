/* mpi_coll_perf: the MPI side of the comparison (benchmarks/compare), with
 * the flags and the table of Meridian's *_perf benchmarks.
 *
 *   mpirun -np 4 mpi_coll_perf allreduce -b 8 -e 64M -f 4 -n 20 -w 13
 *
 * Collectives: allreduce (MPI_Allreduce), allgather (MPI_Allgather),
 * reduce_scatter (MPI_Reduce_scatter_block), broadcast (MPI_Bcast from -r,
 * the root sending from its send buffer), alltoall (MPI_Alltoall); float32,
 * sum. Built against Open MPI (mpicc.openmpi) or MPICH (mpicc.mpich).
 */
#include <limits.h>
#include <mpi.h>

#include "perf_common.h"

static int mpi_run(cmp_lib_t *lib, cmp_coll_t coll, const cmp_counts_t *c, int root,
                   const float *send, float *recv) {
  MPI_Comm comm = MPI_COMM_WORLD;
  const int per = (int)c->param;
  int rc = MPI_ERR_OTHER;
  switch (coll) {
    case CMP_ALLREDUCE:
      rc = MPI_Allreduce(send, recv, per, MPI_FLOAT, MPI_SUM, comm);
      break;
    case CMP_ALLGATHER:
      rc = MPI_Allgather(send, per, MPI_FLOAT, recv, per, MPI_FLOAT, comm);
      break;
    case CMP_REDUCE_SCATTER:
      rc = MPI_Reduce_scatter_block(send, recv, per, MPI_FLOAT, MPI_SUM, comm);
      break;
    case CMP_BROADCAST:
      rc = MPI_Bcast(lib->rank == root ? (void *)send : (void *)recv, per, MPI_FLOAT, root, comm);
      break;
    case CMP_ALLTOALL:
      rc = MPI_Alltoall(send, per, MPI_FLOAT, recv, per, MPI_FLOAT, comm);
      break;
    default:
      break;
  }
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    fprintf(stderr, "%s: rank %d: %s\n", lib->program, lib->rank, msg);
    return 1;
  }
  return 0;
}

static void mpi_barrier(cmp_lib_t *lib) {
  (void)lib;
  MPI_Barrier(MPI_COMM_WORLD);
}

static void mpi_allreduce_d(cmp_lib_t *lib, double *v, int n, cmp_red_t op) {
  (void)lib;
  MPI_Op mop = op == CMP_RED_MIN ? MPI_MIN : op == CMP_RED_MAX ? MPI_MAX : MPI_SUM;
  MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, mop, MPI_COMM_WORLD);
}

int main(int argc, char **argv) {
  cmp_lib_t lib;
  cmp_opts_t opts;
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0, rc;
  long long wrong;

  setvbuf(stdout, NULL, _IOLBF, 0);
  memset(&lib, 0, sizeof lib);
  lib.program = "mpi_coll_perf";
  rc = cmp_parse_args(argc, argv, &opts);
  if (rc != 0) return rc == 1 ? 0 : 2;
  if (opts.max_bytes / sizeof(float) > (size_t)INT_MAX) {
    fprintf(stderr, "mpi_coll_perf: -e too large for int counts\n");
    return 2;
  }
  MPI_Init(&argc, &argv);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &lib.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &lib.nranks);
  MPI_Get_library_version(version, &len);
  /* First line only, e.g. "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4". */
  version[strcspn(version, ",\n")] = '\0';
  snprintf(lib.description, sizeof lib.description, "%.120s", version);
  lib.root_keeps_recv = 1;
  lib.run = mpi_run;
  lib.barrier = mpi_barrier;
  lib.allreduce_d = mpi_allreduce_d;
  wrong = cmp_main(&lib, &opts);
  MPI_Finalize();
  return wrong ? 1 : 0;
}
