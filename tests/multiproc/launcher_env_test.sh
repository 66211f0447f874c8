#!/usr/bin/env bash
# Starts ranks the way other launchers do, without mrdrun and without a
# unique id: rank 0 hosts the bootstrap root at the rendezvous address.
#   torchrun style: RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT
#   Open MPI style: OMPI_COMM_WORLD_* with MRD_COMM_ID
#   Slurm style:    SLURM_PROCID / SLURM_NTASKS with MRD_COMM_ID
# Each job runs a checked allreduce benchmark; any failure fails the test.
set -uo pipefail
bench=$1
np=3
fail=0
run_job() {  # name, then a function that prints the env for rank $1
  local name=$1 envfn=$2 pids=() r rc before=$fail
  for ((r = 0; r < np; r++)); do
    env $($envfn $r) MRD_SOCKET_IFNAME=lo MRD_TIMEOUT_MS=20000 timeout 60 "$bench" -b 8 -e 1M -f 32 -n 2 -w 1 -c 1 \
      >"$tmp/$name.$r.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do
    wait "$p"; rc=$?
    if ((rc != 0)); then
      echo "$name: a rank exited with $rc"; cat "$tmp/$name".*.log; fail=1
    fi
  done
  grep -q "Out of bounds values : 0 OK" "$tmp/$name.0.log" || { echo "$name: no clean table"; fail=1; }
  ((fail == before)) && echo "$name: ok"
}
tmp=$(mktemp -d /tmp/mrd_launchenv.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# Below Linux's ephemeral range (32768+), so no test's outgoing socket holds
# it, and not bound by anyone right now.
port() {
  local p
  while :; do
    p=$((20000 + (RANDOM % 12000)))
    ss -Htan 2>/dev/null | awk '{print $4}' | grep -q ":$p\$" || { echo "$p"; return; }
  done
}
P1=$(port); P2=$(port); P3=$(port)
torch_env() { echo "RANK=$1 WORLD_SIZE=$np LOCAL_RANK=$1 LOCAL_WORLD_SIZE=$np MASTER_ADDR=127.0.0.1 MASTER_PORT=$P1"; }
ompi_env() { echo "OMPI_COMM_WORLD_RANK=$1 OMPI_COMM_WORLD_SIZE=$np OMPI_COMM_WORLD_LOCAL_RANK=$1 OMPI_COMM_WORLD_LOCAL_SIZE=$np MRD_COMM_ID=127.0.0.1:$P2"; }
slurm_env() { echo "SLURM_PROCID=$1 SLURM_NTASKS=$np SLURM_LOCALID=$1 MRD_COMM_ID=127.0.0.1:$P3"; }
run_job torchrun torch_env
run_job openmpi ompi_env
run_job slurm slurm_env
exit $fail
