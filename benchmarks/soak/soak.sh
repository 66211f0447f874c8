#!/usr/bin/env bash
# Runs benchmarks/soak (random collectives, every element checked) with or
# without a fault:
#
#   benchmarks/soak/soak.sh [--build DIR] [--np N] [--minutes M | --seconds S]
#       [--fault none|kill|rail] [--seed S] [--trials N] [--shm 0|1]
#       [--limit S] [--comm-id] [--logs DIR] [-- SOAK_ARGS...]
#
# none  mrdrun -np N soak for the duration; the status is soak's (0: every
#       element of every operation right).
# kill  N ranks started here without mrdrun (which would stop the job
#       itself), on loopback, with --expect-fault --dead-rank V; a random
#       non-zero rank V is killed (SIGKILL) at a random time within the
#       duration. Every survivor must exit with status 3 ("failed as
#       expected after a fault") within --limit seconds (10) of the kill,
#       its error naming rank V. Prints per survivor the time from the kill
#       to its error and to its exit; --trials N repeats (median and max at
#       the end). --shm 0 sets MRD_SHM_DISABLE=1 (TCP over loopback).
#       MRD_TIMEOUT_MS is 30000 unless set.
# rail  two namespace hosts with two rails (tests/netns/netns_job.sh, root):
#       rail 1 goes down on every host at 25% of the duration and up 3 s
#       later, then on host 1 only at 60% and up 3 s later, while soak runs
#       and checks every element: no operation may fail (the links move
#       their traffic to rail 0). Needs --seconds 15 or more. --logs DIR
#       keeps every rank's output there.
#
# kill and rail give the ranks the bootstrap root's address as MASTER_ADDR
# and MASTER_PORT (torchrun's way), or as MRD_COMM_ID with --comm-id (where
# every mrdCommSplit once failed: its root was pinned to that address too).
# --build DIR: the build tree (default $MERIDIAN_BUILD or build).
# Exit status 0 when the run (every trial) passed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${MERIDIAN_BUILD:-build}
np=4
seconds=60
fault=none
seed=""
trials=1
shm=1
limit=10
comm_id=0
keep_logs=""
extra=()
while (($# > 0)); do
  case $1 in
    --build) build=$2; shift 2 ;;
    --np) np=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --minutes) seconds=$(($2 * 60)); shift 2 ;;
    --fault) fault=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --shm) shm=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --comm-id) comm_id=1; shift ;;
    --logs) keep_logs=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $seconds =~ ^[0-9]+$ && $np =~ ^[0-9]+$ && $np -ge 1 ]] || { echo "soak.sh: --seconds and --np take whole numbers" >&2; exit 2; }
soak=$build/benchmarks/soak
mrdrun=$build/tools/mrdrun/mrdrun
[[ -x $soak && -x $mrdrun ]] || { echo "soak.sh: no $soak or $mrdrun (cmake --build $build --target soak mrdrun)" >&2; exit 2; }
soak=$(cd "$(dirname "$soak")" && pwd)/soak
seed_args=()
[[ -n $seed ]] && seed_args=(--seed "$seed")

run_none() {
  echo "soak.sh: $mrdrun -np $np $soak --seconds $seconds ${seed_args[*]} ${extra[*]}"
  "$mrdrun" -np "$np" --timeout $((seconds + 600)) "$soak" --seconds "$seconds" "${seed_args[@]}" "${extra[@]}"
}

run_rail() {
  ((seconds >= 15)) || { echo "soak.sh: --fault rail needs --seconds 15 or more" >&2; exit 2; }
  local rf="$root/tests/netns/rail_fault.sh" a b
  a=$((seconds / 4))
  b=$((seconds * 3 / 5))
  local cmd="sleep $a; $rf down 1; sleep 3; $rf up 1; sleep $((b - a - 3)); $rf --hosts 1 down 1; sleep 3; $rf --hosts 1 up 1"
  local logs=$keep_logs
  [[ -n $logs ]] || logs=$(mktemp -d /tmp/mrd_soak_rail.XXXXXX)
  mkdir -p "$logs"
  echo "soak.sh: netns_job.sh --rails 2 2 hosts x $((np / 2)),$((np - np / 2)) ranks; fault: $cmd"
  # netns_job.sh gives MRD_COMM_ID; the ranks get it as MASTER_ADDR/PORT.
  local wrap=(bash -c 'export MASTER_ADDR="${MRD_COMM_ID%:*}" MASTER_PORT="${MRD_COMM_ID##*:}"; unset MRD_COMM_ID; exec "$0" "$@"')
  ((comm_id)) && wrap=()
  "$root/tests/netns/netns_job.sh" --rails 2 --ifname veth --timeout $((seconds + 300)) --logs "$logs" \
    --fault "$cmd" "$((np / 2)),$((np - np / 2))" "${wrap[@]}" "$soak" --seconds "$seconds" "${seed_args[@]}" "${extra[@]}"
  local status=$?
  echo "soak.sh: fault log:"
  sed 's/^/  /' "$logs/fault.log"
  grep -h "WRONG\|failed\|HANG\|slow step" "$logs"/rank*.log | cut -c1-300 | head -30
  [[ -n $keep_logs ]] || rm -rf "$logs"
  return $status
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# One kill trial; appends survivors' figures to the globals below.
all_ms=()
trial_fail=0
run_kill_trial() {
  local t=$1 tmp port victim kill_at pids=() r i
  tmp=$(mktemp -d /tmp/mrd_soak_kill.XXXXXX)
  port=$((20000 + RANDOM % 20000))
  local rendezvous=(MASTER_ADDR=127.0.0.1 MASTER_PORT=$port)
  ((comm_id)) && rendezvous=(MRD_COMM_ID=127.0.0.1:$port)
  victim=$((1 + RANDOM % (np - 1)))
  # The kill comes at a random time from 1 s to the duration.
  local span=$((seconds * 1000 > 1000 ? seconds * 1000 - 1000 : 1))
  kill_at=$((1000 + (RANDOM * 32768 + RANDOM) % span))
  for ((r = 0; r < np; r++)); do
    (
      env MRD_RANK=$r MRD_WORLD_SIZE=$np MRD_LOCAL_RANK=$r MRD_LOCAL_SIZE=$np \
        "${rendezvous[@]}" MRD_SOCKET_IFNAME=lo MRD_SHM_DISABLE=$((1 - shm)) \
        MRD_TIMEOUT_MS="${MRD_TIMEOUT_MS:-30000}" \
        "$soak" --seconds $((seconds + 600)) --expect-fault --dead-rank "$victim" --progress 0 \
        "${seed_args[@]}" "${extra[@]}" >"$tmp/r$r.log" 2>&1
      echo "$? $(now_ms)" >"$tmp/r$r.exit"
    ) 2>/dev/null &
    pids+=($!)
  done
  # Running once rank 0 prints its header.
  for ((i = 0; i < 1200; i++)); do
    grep -q "replay with" "$tmp/r0.log" 2>/dev/null && break
    compgen -G "$tmp/r*.exit" >/dev/null && break
    sleep 0.05
  done
  if ! grep -q "replay with" "$tmp/r0.log" 2>/dev/null; then
    echo "trial $t: the job did not start (port $port):"
    for ((r = 0; r < np; r++)); do tail -n 2 "$tmp/r$r.log" | cut -c1-300 | sed "s/^/  rank $r: /"; done
    for ((r = 0; r < np; r++)); do pkill -KILL -P "${pids[r]}" 2>/dev/null; done
    wait
    rm -rf "$tmp"
    return 2
  fi
  sleep "$((kill_at / 1000)).$(printf '%03d' $((kill_at % 1000)))"
  local vpid kill_ms
  vpid=$(pgrep -P "${pids[victim]}" -n)
  kill_ms=$(now_ms)
  if [[ -z $vpid ]] || ! kill -KILL "$vpid" 2>/dev/null; then
    echo "trial $t: rank $victim had already exited before the kill:"
    tail -n 5 "$tmp/r$victim.log" | cut -c1-300 | sed 's/^/  /'
    trial_fail=1
  fi
  for ((r = 0; r < np; r++)); do
    if ((r != victim)) && [[ -s $tmp/r$r.exit ]] && (($(cut -d' ' -f2 "$tmp/r$r.exit") < kill_ms)); then
      echo "trial $t: rank $r exited before the kill (FAIL):"
      tail -n 5 "$tmp/r$r.log" | cut -c1-300 | sed 's/^/  /'
      trial_fail=1
    fi
  done
  local line="trial $t: seed $(sed -n 's/.*, seed \([0-9]*\),.*/\1/p' "$tmp/r0.log" | head -1), killed rank $victim at +$((kill_at / 1000)).$(printf '%03d' $((kill_at % 1000))) s;"
  local waited_ms=$(((limit + 50) * 1000)) rc end_ms ms det names
  for ((r = 0; r < np; r++)); do
    ((r == victim)) && continue
    while [[ ! -s $tmp/r$r.exit ]] && (($(now_ms) - kill_ms < waited_ms)); do sleep 0.02; done
    if [[ ! -s $tmp/r$r.exit ]]; then
      line+=" rank $r still running $((waited_ms / 1000)) s after the kill (FAIL);"
      kill -USR1 "$(pgrep -P "${pids[r]}" -n)" 2>/dev/null
      sleep 1
      pkill -KILL -P "${pids[r]}" 2>/dev/null
      trial_fail=1
      continue
    fi
    read -r rc end_ms <"$tmp/r$r.exit"
    ms=$((end_ms - kill_ms))
    all_ms+=("$ms")
    det=$(sed -n 's/.* failed (.*) at unix_ms \([0-9]*\):.*/\1/p' "$tmp/r$r.log" | head -1)
    det=${det:+error after $((det - kill_ms)) ms, }
    names=$(grep -o "names the dead rank $victim: [a-z]*.*" "$tmp/r$r.log" | head -1)
    line+=" rank $r: ${det}exit $rc after $ms ms, ${names:-no error line}"
    if [[ $names == *": no"* ]]; then
      # What it blames instead, e.g. a rank that aborted after the fault.
      line+=" (it names: $(grep -m1 " failed (" "$tmp/r$r.log" | sed 's/.* at unix_ms [0-9]*: //' |
        grep -o -E "(rank|peer) [0-9]+" | sort -u | paste -sd, -))"
    fi
    line+=";"
    if ((rc != 3 || ms > limit * 1000)) || [[ $names != *": yes"* ]]; then trial_fail=1; line+=" (FAIL)"; fi
  done
  echo "$line"
  # The survivors' error lines (the first of each).
  for ((r = 0; r < np; r++)); do
    ((r == victim)) && continue
    grep -m1 " failed (" "$tmp/r$r.log" | cut -c1-400 | sed 's/^/  /'
    grep -q "WRONG" "$tmp/r$r.log" && { grep -m3 WRONG "$tmp/r$r.log" | sed 's/^/  /'; trial_fail=1; }
  done
  wait
  rm -rf "$tmp"
}

run_kill() {
  ((np >= 2)) || { echo "soak.sh: --fault kill needs --np 2 or more" >&2; exit 2; }
  echo "soak.sh: $np ranks on loopback (shm $shm), one non-zero rank killed at a random time;" \
    "survivors must exit 3 within $limit s naming it"
  local t
  local t attempt
  for ((t = 1; t <= trials; t++)); do
    for ((attempt = 1; attempt <= 3; attempt++)); do
      run_kill_trial "$t" && break
      (($? == 2)) || break
    done
  done
  local sorted n
  sorted=($(printf '%s\n' "${all_ms[@]}" | sort -n))
  n=${#sorted[@]}
  if ((n > 0)); then
    echo "soak.sh: kill to survivor exit over $trials trials ($n survivors): median ${sorted[n / 2]} ms, max ${sorted[n - 1]} ms"
  fi
  if ((trial_fail)); then echo "soak.sh: FAIL"; return 1; fi
  echo "soak.sh: PASS"
}

case $fault in
  none) run_none ;;
  kill) run_kill ;;
  rail) run_rail ;;
  *) echo "soak.sh: --fault none, kill or rail" >&2; exit 2 ;;
esac
