#!/usr/bin/env bash
# Runs one job over several "hosts" on this machine: each host is a Linux
# network namespace whose NIC is a veth into a bridge (one bridge per rail),
# so ranks in different namespaces are on different hosts for Meridian
# (host id = hostname|boot id|netns) and talk TCP over the veths, while
# ranks in one namespace share memory.
#
#   netns_job.sh [options] LAYOUT PROGRAM [ARGS...]
#
# LAYOUT is the ranks per host, e.g. "2,2" (2 hosts x 2 ranks) or "3,1,2".
# Ranks are numbered host by host. Each gets MRD_RANK, MRD_WORLD_SIZE,
# MRD_LOCAL_RANK, MRD_LOCAL_SIZE, MRD_COMM_ID=<address of host 0>:<port>
# (rank 0 hosts the bootstrap root there) and MRD_SOCKET_IFNAME=veth0; the
# rest of the environment (MRD_ALGO, MRD_DEBUG, ...) passes through.
#
# The topology, for fault injection (tests/netns/rail_fault.sh reads it;
# not MRD_* names, those are the library's):
#   NETNS_JOB_HOSTS       the namespaces in host order, space-separated
#                         ("mrd123h0 mrd123h1 ...")
#   NETNS_JOB_HOST_LINKS  the host-side (root namespace) ends of the veths,
#                         space-separated, host by host, rail by rail:
#                         h0r0 h0r1 ... h1r0 ... (bridge ports)
#   NETNS_JOB_RAILS       the number of rails
#   NETNS_JOB_HOST        this rank's host index (ranks only)
#
# Options:
#   --rails N      N bridges, N veths per host: veth0 on 10.77.X.0/24,
#                  veth1 on 10.78.X.0/24, ... (default 1)
#   --timeout S    kill the job after S seconds (default 120; exit 124)
#   --ifname SPEC  MRD_SOCKET_IFNAME for the ranks (default veth0)
#   --rate RATE    limit every rail of every host to RATE each way (tc tbf
#                  by rail_fault.sh rate all RATE; e.g. 1gbit, 400mbit): a
#                  network slower than shared memory
#   --logs DIR     keep every rank's output in DIR (default: a temp dir,
#                  removed at exit; failing ranks' output is printed)
#   --quiet        do not echo rank 0's output
#   --fault CMD    once every rank is launched, run `bash -c CMD` in the
#                  background in the root namespace, in its own session,
#                  with the NETNS_JOB_* variables above (not _HOST) in its
#                  environment and its output in LOGS/fault.log; e.g.
#                  --fault 'sleep 2; tests/netns/rail_fault.sh rate 1 50mbit'.
#                  Its process group is killed (TERM, then KILL after 2s)
#                  when the job ends. Its status is not the job's: if it
#                  fails, the tail of fault.log is printed as a warning
#                  (and with the ranks' output if the job fails)
#
# Rank 0's output goes to stdout. The first rank to fail (or the timeout)
# ends the job: the others are killed, and its status is the script's. The
# namespaces, veths and bridges are always removed. Without root or without
# `ip netns`, prints a SKIP line and exits 77 (ctest SKIP_RETURN_CODE).
set -uo pipefail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2; }

rails=1
timeout_s=120
ifname=veth0
logdir=""
rate=""
quiet=0
fault=""
while (($# > 0)); do
  case $1 in
    --rails) rails=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --ifname) ifname=$2; shift 2 ;;
    --logs) logdir=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --quiet) quiet=1; shift ;;
    --fault) fault=$2; shift 2 ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) echo "netns_job.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
(($# >= 2)) || usage
layout=$1
shift
[[ $layout =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "netns_job.sh: bad layout '$layout'" >&2; exit 2; }
[[ $rails =~ ^[1-9]$ ]] || { echo "netns_job.sh: --rails must be 1..9" >&2; exit 2; }
IFS=, read -r -a per_host <<<"$layout"
nhosts=${#per_host[@]}
((nhosts <= 200)) || { echo "netns_job.sh: at most 200 hosts" >&2; exit 2; }
world=0
for l in "${per_host[@]}"; do world=$((world + l)); done

if [[ $(id -u) != 0 ]]; then
  echo "SKIP: netns_job.sh needs root (network namespaces)"
  exit 77
fi
if ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
  echo "SKIP: 'ip netns' is not available"
  exit 77
fi

# Names unique per invocation (interface names: 15 characters at most).
tag="mrd$$"
subnet=$(($$ % 250 + 1))  # X of 10.77.X.0/24
namespaces=()
bridges=()
host_links=()
pids=()
fault_pid=""
own_logs=0
if [[ -z $logdir ]]; then
  logdir=$(mktemp -d /tmp/mrd_netns.XXXXXX)
  own_logs=1
fi
mkdir -p "$logdir"

# Ends the --fault command (its whole session/process group) if it still
# runs: TERM, so a trap can undo its fault, then KILL after 2s. Sets
# fault_status to its exit status, or "" if it had to be killed.
fault_status=""
stop_fault() {
  [[ -n $fault_pid ]] || return 0
  local i
  if kill -0 "$fault_pid" 2>/dev/null; then
    kill -TERM -- "-$fault_pid" 2>/dev/null
    for ((i = 0; i < 40; i++)); do
      kill -0 -- "-$fault_pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL -- "-$fault_pid" 2>/dev/null
    wait "$fault_pid" 2>/dev/null
  else
    wait "$fault_pid" 2>/dev/null
    fault_status=$?
    # Its children may outlive it.
    kill -KILL -- "-$fault_pid" 2>/dev/null
  fi
  fault_pid=""
}

cleanup() {
  local p
  stop_fault
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  for p in "${namespaces[@]}"; do ip netns del "$p" 2>/dev/null; done
  for p in "${host_links[@]}"; do ip link del "$p" 2>/dev/null; done
  for p in "${bridges[@]}"; do ip link del "$p" 2>/dev/null; done
  ((own_logs)) && rm -rf "$logdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

setup_failed() {
  echo "SKIP: could not set up the namespaces ($1)"
  exit 77
}

for ((k = 0; k < rails; k++)); do
  br="${tag}b$k"
  ip link add name "$br" type bridge 2>/dev/null || setup_failed "ip link add $br type bridge"
  bridges+=("$br")
  # Bridged frames must not go through the host's iptables (br_netfilter).
  ip link set "$br" type bridge nf_call_iptables 0 nf_call_ip6tables 0 2>/dev/null
  ip link set "$br" up || setup_failed "bridge up"
done
for ((h = 0; h < nhosts; h++)); do
  ns="${tag}h$h"
  ip netns add "$ns" || setup_failed "ip netns add $ns"
  namespaces+=("$ns")
  ip -n "$ns" link set lo up
  for ((k = 0; k < rails; k++)); do
    outer="${tag}h${h}r$k"
    inner="${tag}p${h}r$k"
    ip link add "$outer" type veth peer name "$inner" || setup_failed "veth $outer"
    host_links+=("$outer")
    ip link set "$outer" master "${tag}b$k" up &&
      ip link set "$inner" netns "$ns" &&
      ip -n "$ns" link set "$inner" name "veth$k" &&
      ip -n "$ns" addr add "10.$((77 + k)).$subnet.$((h + 1))/24" dev "veth$k" &&
      ip -n "$ns" link set "veth$k" up || setup_failed "veth$k in $ns"
  done
done

# --rate: every rail of every host, both ways, by the fault tool (which
# sizes tbf's bucket for the rate).
if [[ -n $rate ]]; then
  NETNS_JOB_HOSTS="${namespaces[*]}" NETNS_JOB_HOST_LINKS="${host_links[*]}" NETNS_JOB_RAILS="$rails" \
    "$(dirname "$0")/rail_fault.sh" rate all "$rate" >/dev/null || setup_failed "rail_fault.sh rate all $rate"
fi

# The port is in host 0's namespace, which nothing else uses.
root_addr="10.77.$subnet.1"
port=29500
rank=0
for ((h = 0; h < nhosts; h++)); do
  for ((l = 0; l < per_host[h]; l++)); do
    ip netns exec "${tag}h$h" env MRD_RANK=$rank MRD_WORLD_SIZE=$world MRD_LOCAL_RANK=$l \
      MRD_LOCAL_SIZE=${per_host[h]} MRD_COMM_ID="$root_addr:$port" MRD_SOCKET_IFNAME="$ifname" \
      NETNS_JOB_HOSTS="${namespaces[*]}" NETNS_JOB_HOST_LINKS="${host_links[*]}" \
      NETNS_JOB_RAILS="$rails" NETNS_JOB_HOST=$h \
      "$@" >"$logdir/rank$rank.log" 2>&1 &
    pids+=($!)
    rank=$((rank + 1))
  done
done
if [[ -n $fault ]]; then
  # setsid: its own session and process group (pgid = $!, as the child of
  # a non-interactive shell is not a group leader), to kill it whole.
  NETNS_JOB_HOSTS="${namespaces[*]}" NETNS_JOB_HOST_LINKS="${host_links[*]}" NETNS_JOB_RAILS="$rails" \
    setsid bash -c "$fault" </dev/null >"$logdir/fault.log" 2>&1 &
  fault_pid=$!
fi

# Wait for all, or the first failure, or the timeout.
declare -A rank_of=() finished=()
for ((r = 0; r < world; r++)); do rank_of[${pids[r]}]=$r; done
sleep "$timeout_s" &
timer=$!
status=0
failed_rank=-1
while ((${#finished[@]} < world)); do
  running=()
  for ((r = 0; r < world; r++)); do [[ -z ${finished[$r]:-} ]] && running+=("${pids[r]}"); done
  done_pid=""
  wait -n -p done_pid "${running[@]}" "$timer"
  rc=$?
  [[ -z $done_pid ]] && continue
  if [[ $done_pid == "$timer" ]]; then
    status=124
    echo "netns_job.sh: timeout after ${timeout_s}s; ranks still running:" \
      "$(for ((r = 0; r < world; r++)); do [[ -z ${finished[$r]:-} ]] && printf '%d ' $r; done)" >&2
    break
  fi
  r=${rank_of[$done_pid]}
  finished[$r]=$rc
  if ((rc != 0)); then
    status=$rc
    failed_rank=$r
    break
  fi
done
kill "$timer" 2>/dev/null
wait "$timer" 2>/dev/null
if ((status != 0)); then
  # The ranks still running log what they wait on (Meridian's hang report
  # on SIGUSR1) before they are stopped.
  signalled=0
  for ((r = 0; r < world; r++)); do
    [[ -z ${finished[$r]:-} ]] && kill -USR1 "${pids[r]}" 2>/dev/null && signalled=1
  done
  ((signalled)) && sleep 1
  for ((r = 0; r < world; r++)); do
    [[ -z ${finished[$r]:-} ]] && kill -TERM "${pids[r]}" 2>/dev/null
  done
  sleep 0.5
fi

stop_fault
if [[ -n $fault_status && $fault_status != 0 ]]; then
  echo "netns_job.sh: warning: the --fault command exited with status $fault_status:" >&2
  tail -n 30 "$logdir/fault.log" >&2
fi

((quiet)) || cat "$logdir/rank0.log"
if ((status != 0)); then
  ((failed_rank >= 0)) && echo "netns_job.sh: rank $failed_rank exited with status $status" >&2
  for ((r = 0; r < world; r++)); do
    if [[ $r != 0 || $quiet == 1 ]] && [[ -s $logdir/rank$r.log ]]; then
      echo "---- rank $r ----" >&2
      tail -n 30 "$logdir/rank$r.log" >&2
    fi
  done
  # Already shown above if it failed.
  if [[ -n $fault && ${fault_status:-0} == 0 && -s $logdir/fault.log ]]; then
    echo "---- fault ----" >&2
    tail -n 30 "$logdir/fault.log" >&2
  fi
fi
exit $status
