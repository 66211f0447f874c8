#!/usr/bin/env bash
# Adapter for ../shared/peers/run_peers.sh: runs Meridian's benchmark for one
# (setting, ranks, collective) and prints the nccl-tests table.
#
#   peers_adapter.sh SETTING NP COLL -- BENCH_ARGS...
#
# SETTING local: mrdrun -np NP on this host (shared memory).
# SETTING netns: ranks in blocks over the namespaces in PEERS_HOSTS, TCP over
#                the first interface of PEERS_IFACES; rank 0 hosts the root.
# The harness's -B (time budget per size) has no nccl-tests equivalent and
# is dropped; -n and -w are passed on.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${MERIDIAN_BUILD:-$here/../build}
setting=$1 np=$2 coll=$3
shift 3
[[ ${1:-} == -- ]] && shift
args=()
while (($#)); do
  case "$1" in
    -B) shift 2;;
    *) args+=("$1"); shift;;
  esac
done
case $coll in
  allreduce) bin=all_reduce_perf;;
  allgather) bin=all_gather_perf;;
  alltoall) bin=alltoall_perf;;
  broadcast) bin=broadcast_perf;;
  reduce_scatter) bin=reduce_scatter_perf;;
  *) echo "# UNSUPPORTED collective $coll"; exit 0;;
esac
prog=$build/benchmarks/$bin

if [[ $setting == local ]]; then
  exec "$build/tools/mrdrun/mrdrun" -np "$np" "$prog" "${args[@]}"
fi

read -r -a hosts <<<"${PEERS_HOSTS:?netns setting needs PEERS_HOSTS}"
iface=${PEERS_IFACES%%,*}
per=$((np / ${#hosts[@]}))
root_addr=$(ip netns exec "${hosts[0]}" ip -4 -o addr show dev "$iface" | awk '{print $4}' | cut -d/ -f1)
port=$((20000 + RANDOM % 20000))
pids=()
for ((r = 0; r < np; r++)); do
  h=${hosts[$((r / per))]}
  out=/dev/null; ((r == 0)) && out=/dev/stdout
  ip netns exec "$h" env MRD_RANK=$r MRD_WORLD_SIZE=$np MRD_LOCAL_RANK=$((r % per)) \
    MRD_LOCAL_SIZE=$per MRD_COMM_ID="$root_addr:$port" MRD_SOCKET_IFNAME="$iface" \
    "$prog" "${args[@]}" >"$out" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
exit $rc
