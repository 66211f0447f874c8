#!/usr/bin/env bash
# How soon the survivors of a killed rank learn of it (issue 6's figure):
# NP ranks of all_reduce_perf on this host (launched directly, no mrdrun,
# which would stop the job itself), rank NP-1 killed with SIGKILL while
# they run, and for each survivor the time from the kill to its exit and
# whether its error names the dead rank. Prints every trial, then the
# median and the maximum.
#
#   benchmarks/peer_death.sh [--build DIR] [--trials N] [--np N] [--shm 0|1] [--bytes B]
#
# --shm 0 sets MRD_SHM_DISABLE=1 (TCP over loopback between the ranks).
set -uo pipefail

build=build
trials=20
np=4
shm=1
bytes=1M
while (($# > 0)); do
  case $1 in
    --build) build=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --np) np=$2; shift 2 ;;
    --shm) shm=$2; shift 2 ;;
    --bytes) bytes=$2; shift 2 ;;
    *) echo "peer_death.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
bench=$build/benchmarks/all_reduce_perf
[[ -x $bench ]] || { echo "peer_death.sh: no $bench (build first)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/mrd_peerdeath.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
victim=$((np - 1))
now_ms() { echo $(($(date +%s%N) / 1000000)); }
all=()
named=0
survivors=0
for ((t = 1; t <= trials; t++)); do
  port=$((20000 + RANDOM % 10000))
  pids=()
  for ((r = 0; r < np; r++)); do
    (
      env MRD_RANK=$r MRD_WORLD_SIZE=$np MRD_LOCAL_RANK=$r MRD_LOCAL_SIZE=$np MRD_COMM_ID=127.0.0.1:$port \
        MRD_SOCKET_IFNAME=lo MRD_SHM_DISABLE=$((1 - shm)) MRD_TIMEOUT_MS=${MRD_TIMEOUT_MS:-30000} \
        "$bench" -b "$bytes" -e "$bytes" -n 1000000 -w 1 -c 0 >"$tmp/r$r.log" 2>&1
      echo "$? $(now_ms)" >"$tmp/r$r.exit"
    ) &
    pids+=($!)
  done
  # Running once rank 0 prints its first result line.
  for ((i = 0; i < 200; i++)); do
    grep -q "^ *[0-9]\+ \+[0-9]\+ \+float" "$tmp/r0.log" 2>/dev/null && break
    sleep 0.05
  done
  sleep "0.$((RANDOM % 5 + 1))"
  # The benchmark process of the victim: the child of its subshell.
  victim_pid=$(pgrep -P "${pids[victim]}" -n)
  kill_ms=$(now_ms)
  kill -KILL "$victim_pid"
  line="trial $t:"
  for ((r = 0; r < np - 1; r++)); do
    for ((i = 0; i < 600; i++)); do
      [[ -s $tmp/r$r.exit ]] && break
      sleep 0.05
    done
    if [[ ! -s $tmp/r$r.exit ]]; then
      line+=" rank $r still running after 30 s;"
      pkill -KILL -P "${pids[r]}" 2>/dev/null
      continue
    fi
    read -r rc end_ms <"$tmp/r$r.exit"
    ms=$((end_ms - kill_ms))
    all+=("$ms")
    ((survivors++))
    says=""
    if grep -q -E "(rank|peer) $victim\b" "$tmp/r$r.log"; then
      ((named++))
      says="names rank $victim"
    else
      says="does not name rank $victim: $(grep -m1 -i "error\|failed" "$tmp/r$r.log" | cut -c1-120)"
    fi
    line+=" rank $r exit $rc after $ms ms ($says);"
  done
  wait
  rm -f "$tmp"/r*.exit "$tmp"/r*.log
  echo "$line"
done
sorted=($(printf '%s\n' "${all[@]}" | sort -n))
n=${#sorted[@]}
((n > 0)) || { echo "no survivor exited"; exit 1; }
echo "detection (kill to survivor's exit), $n survivors of $trials trials, np $np, shm $shm:" \
  "median ${sorted[n / 2]} ms, max ${sorted[n - 1]} ms; $named of $survivors named rank $victim"
