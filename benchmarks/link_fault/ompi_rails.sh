#!/usr/bin/env bash
# ompi_rails.sh — Open MPI allreduce busbw across the two netns "hosts" of
# ../shared/peers/netns_topo.sh, over both rails, in the scenarios
# link_fault_perf runs (the peer figure for issue 4; not run by tests or CI;
# needs ../shared/peers/install.sh's Open MPI and its mpi_coll_bench built).
#
#   ompi_rails.sh SCEN [SIZE]
#     SCEN  healthy2  both rails of both hosts at 2gbit, btl_tcp_if_include rail0,rail1
#           healthy1  same rate limits, btl_tcp_if_include rail0 only
#           cut       like healthy2, but rail1 of both hosts at 100mbit (5 % rail)
#           down      like healthy2, rail1 of both hosts set down OMPI_DOWN_AT
#                     (3) seconds into the run (Open MPI hangs: OMPI_TIMEOUT)
#           loss1     like healthy2, plus rail1 dropping 1 % of packets from the
#                     start of the run (degrade.sh H 1 loss 1 for each host H of
#                     OMPI_LOSS_HOSTS, default "0": degrade.sh's loss of host H
#                     drops in H and, for H's packets, in the other host, so
#                     one host listed drops each packet 1 % once, like
#                     tests/netns/rail_fault.sh loss 1 1 for Meridian; with
#                     "0 1" each packet meets two 1 % drops, ~2 % in all)
#           loss10    same with 10 % (~19 % per packet with both hosts listed)
#           flap      like healthy2, rail1 of both hosts down for OMPI_FLAP_MS
#                     (200) ms, up for as long, ... for OMPI_FLAP_S (10) s, as
#                     tests/netns/rail_fault.sh flap 1 200 10 does for Meridian;
#                     starts OMPI_FLAP_AT (0) s after phost1 has received 1 MB
#                     on rail1 (the run's connections made, its first
#                     operation under way), so the warm-up and the timed loop
#                     run in it (unless a stall outlasts it); stopped, rail
#                     up, when mpirun ends before it; stderr says how much
#                     phost1 received on the rails while it lasted (GB/s)
#           onehost   like healthy2, but both rails of host 1 at 300mbit and
#                     dropping 1 % of packets (degrade.sh 1 R rate 300mbit and
#                     degrade.sh 1 R loss 1, R = 0, 1) from the start of the
#                     run: each packet, either way, meets one 1 % drop, like
#                     rail_fault.sh --hosts 1 rate all 300mbit and
#                     rail_fault.sh --hosts 1 loss all 1 for Meridian
#     SIZE  allreduce buffer (bytes, K/M/G suffixes), default 16M; only this size runs
#
# stdout (exactly two lines):
#   ompi SCEN busbw=<GB/s> time_us=<avg us>
#   ompi SCEN rail_share r0=..% r1=..% rx_MB=<MB received by phost1 on rails>
# Exit status: 0 ok; 1 benchmark failed / timed out / wrong elements / no table;
# 2 usage; 3 topology/degrade failure.
#
# Env: PEERS_DIR (default ../shared/peers beside the checkout), BENCH
#   (default /tmp/peers-build/mpi_coll_bench.openmpi: `make -C PEERS_DIR`
#   builds it in PEERS_DIR/build, or copy the sources and build elsewhere), OMPI_ITERS (60), OMPI_WARMUP (5),
#   OMPI_BUDGET_MS (5000: per-size time budget, caps iterations when the run is
#   slow, e.g. the cut scenario), OMPI_TIMEOUT (120), OMPI_EXTRA_MCA (extra
#   mpirun words, e.g. "--mca btl_tcp_links 2"), OMPI_LOSS_HOSTS (loss1/loss10:
#   the hosts whose rail1 gets degrade.sh loss, default "0"), OMPI_FLAP_MS,
#   OMPI_FLAP_S, OMPI_FLAP_AT (flap, above), LOGDIR (a new temp dir).
# Leaves the namespaces up; restores all rails (degrade.sh all restore) on exit.
set -uo pipefail

SCEN=${1:-}
SIZE=${2:-16M}
case "$SCEN" in
  healthy2|cut|down|loss1|loss10|flap|onehost) IFACES=rail0,rail1 ;;
  healthy1) IFACES=rail0 ;;
  *) sed -n '2,52p' "$0" >&2; exit 2 ;;
esac

PEERS_DIR=${PEERS_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/peers}
BENCH=${BENCH:-/tmp/peers-build/mpi_coll_bench.openmpi}
ITERS=${OMPI_ITERS:-60}
WARM=${OMPI_WARMUP:-5}
BUDGET=${OMPI_BUDGET_MS:-5000}
TMO=${OMPI_TIMEOUT:-120}
LOGDIR=${LOGDIR:-$(mktemp -d /tmp/ompi_rails.XXXXXX)}
P=${PEERS_NS_PREFIX:-phost}
TOPO=$PEERS_DIR/netns_topo.sh
DEG=$PEERS_DIR/degrade.sh
AGENT=$PEERS_DIR/nsexec_agent.sh

[[ -x $BENCH ]] || { echo "ompi_rails: no benchmark binary $BENCH" >&2; exit 1; }
command -v mpirun.openmpi >/dev/null || { echo "ompi_rails: mpirun.openmpi missing" >&2; exit 1; }
mkdir -p "$LOGDIR"
ts=$(date +%Y%m%d-%H%M%S)
log=$LOGDIR/$SCEN.$SIZE.$ts.txt
hf=$(mktemp /tmp/ompi_rails.hosts.XXXXXX)

flapper=""
cleanup() {
  rm -f "$hf"
  [[ -n $flapper ]] && kill "$flapper" 2>/dev/null
  "$DEG" all restore >/dev/null 2>&1 || echo "ompi_rails: WARNING: degrade.sh all restore failed" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. topology (only brought up when a namespace or rail is missing: `up` first
#    tears down every phost* namespace)
have_topo() {
  local i r
  for i in 0 1; do
    ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$P$i" || return 1
    for r in 0 1; do ip -n "$P$i" link show "rail$r" >/dev/null 2>&1 || return 1; done
  done
}
if ! have_topo; then
  # netns_topo.sh checks the rails with ping; without iputils-ping it reports
  # "SOME RAILS UNREACHABLE" and exits 1 although everything is set up, so only
  # the existence of the namespaces counts here and reachability is tested below.
  "$TOPO" up 2 >&2 || echo "ompi_rails: netns_topo.sh up 2 returned non-zero (no ping?); checking the rails myself" >&2
  have_topo || { echo "ompi_rails: netns_topo.sh up 2 failed" >&2; exit 3; }
fi
# ping-free reachability check: a TCP connect to a closed port of phost1 is
# refused at once when the rail works and times out when it does not.
for R in 0 1; do
  out=$(ip netns exec "${P}0" timeout 3 bash -c "exec 3<>/dev/tcp/10.201.$R.2/9" 2>&1); rc=$?
  if ((rc == 0)) || [[ $out == *refused* ]]; then :; else
    echo "ompi_rails: ${P}0 cannot reach 10.201.$R.2 on rail$R ($out rc=$rc)" >&2; exit 3
  fi
done

# 2. rails: restore, then 2gbit everywhere, rail1 100mbit for cut, rail1 lossy
#    for loss1/loss10, host 1's rails at 300mbit and lossy for onehost (set
#    before the run starts)
"$DEG" all restore >&2 || exit 3
for H in 0 1; do
  for R in 0 1; do
    rate=2gbit
    [[ $SCEN == cut && $R == 1 ]] && rate=100mbit
    [[ $SCEN == onehost && $H == 1 ]] && rate=300mbit
    "$DEG" "$H" "$R" rate "$rate" >&2 || { echo "ompi_rails: degrade $H $R failed" >&2; exit 3; }
  done
done
if [[ $SCEN == loss* ]]; then
  for H in ${OMPI_LOSS_HOSTS:-0}; do
    "$DEG" "$H" 1 loss "${SCEN#loss}" >&2 || { echo "ompi_rails: degrade $H 1 loss failed" >&2; exit 3; }
  done
fi
if [[ $SCEN == onehost ]]; then
  for R in 0 1; do
    "$DEG" 1 "$R" loss 1 >&2 || { echo "ompi_rails: degrade 1 $R loss failed" >&2; exit 3; }
  done
fi

rx() { ip netns exec "${P}1" cat "/sys/class/net/rail$1/statistics/rx_bytes"; }

# 3. run (mpirun inside phost0, one rank per namespace host, same launch as run_peers.sh)
printf '10.201.0.1 slots=1\n10.201.0.2 slots=1\n' >"$hf"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cmd=(timeout -k 10 "$TMO" ip netns exec "${P}0" mpirun.openmpi
     --allow-run-as-root --oversubscribe --bind-to none --mca pml ob1
     -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
     -np 2 --map-by node --hostfile "$hf" --mca plm_rsh_agent "$AGENT"
     --mca btl self,vader,tcp --mca btl_tcp_if_include "$IFACES" --mca oob_tcp_if_include rail0
     ${OMPI_EXTRA_MCA:-}
     "$BENCH" -C allreduce -b "$SIZE" -e "$SIZE" -n "$ITERS" -w "$WARM" -B "$BUDGET")
echo "ompi_rails: ${cmd[*]}" >&2
r0a=$(rx 0); r1a=$(rx 1)
t0=$(date +%s.%N)
if [[ $SCEN == down ]]; then
  # rail 1 of both hosts goes down OMPI_DOWN_AT seconds into the run
  ( sleep "${OMPI_DOWN_AT:-3}"; "$DEG" 0 1 down; "$DEG" 1 1 down; echo "ompi_rails: rail 1 down at $(date +%s.%N)" ) >&2 &
fi
rail1() { ip -n "${P}0" link set rail1 "$1"; ip -n "${P}1" link set rail1 "$1"; }
if [[ $SCEN == flap ]]; then
  # rail 1 of both hosts down / up every OMPI_FLAP_MS for OMPI_FLAP_S, once
  # phost1 has received 1 MB more on rail1 (plus OMPI_FLAP_AT seconds)
  (
    fms=${OMPI_FLAP_MS:-200}
    nap=$(printf '%d.%03d' $((fms / 1000)) $((fms % 1000)))
    until (($(rx 1) - r1a >= 1000000)); do sleep 0.01; done
    sleep "${OMPI_FLAP_AT:-0}"
    fs=$(date +%s.%N)
    end=$((${fs%.*} * 1000 + 10#${fs:${#fs}-9:3} + ${OMPI_FLAP_S:-10} * 1000))
    fb=$(($(rx 0) + $(rx 1)))
    echo "ompi_rails: flap rail 1 period ${fms}ms for ${OMPI_FLAP_S:-10}s from $fs (+$(awk -v a="$t0" -v b="$fs" 'BEGIN{printf "%.2f", b-a}')s)"
    n=0
    # what phost1 received on the rails while rail 1 flapped (the timed loop
    # may start or end outside the flap, e.g. after a stall in the warm-up)
    flap_end() {
      local fe b
      fe=$(date +%s.%N)
      b=$(($(rx 0) + $(rx 1) - fb))
      awk -v a="$t0" -v s="$fs" -v e="$fe" -v b="$b" -v n="$n" -v w="$1" 'BEGIN {
        printf "ompi_rails: flap %s at +%.2fs: %d cycles; phost1 received %.1f MB on the rails in its %.2f s (%.3f GB/s)\n",
          w, e - a, n, b / 1e6, e - s, b / 1e9 / (e - s) }'
    }
    trap 'flap_end "stopped (mpirun ended)"; exit 0' TERM
    while (($(date +%s%3N) < end)); do
      rail1 down; sleep "$nap"; rail1 up; n=$((n + 1))
      (($(date +%s%3N) < end)) && sleep "$nap"
    done
    flap_end "done, rail 1 up,"
  ) >&2 &
  flapper=$!
fi
"${cmd[@]}" >"$log" 2>"$log.err"
rc=$?
t1=$(date +%s.%N)
if [[ -n $flapper ]]; then
  kill "$flapper" 2>/dev/null && echo "ompi_rails: mpirun ended before the flap did: stopping it, rail 1 up" >&2
  wait "$flapper" 2>/dev/null
  flapper=""
  rail1 up
fi
r0b=$(rx 0); r1b=$(rx 1)
echo "ompi_rails: rc=$rc wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')s log=$log" >&2

# 4. parse: data line = first field numeric; columns size count type redop time algbw busbw #wrong
read -r time_us busbw wrong < <(awk '$1 ~ /^[0-9]+$/ && NF >= 8 {t=$5; b=$7; w=$8} END {if (t != "") print t, b, w}' "$log")
ok=1
if ((rc != 0)); then
  ((rc == 124 || rc == 137)) && echo "ompi_rails: TIMEOUT after ${TMO}s" >&2 || echo "ompi_rails: mpirun exit $rc" >&2
  ok=0
fi
if [[ -z ${busbw:-} ]]; then echo "ompi_rails: no result row in $log" >&2; ok=0; fi
if [[ ${wrong:-x} != 0 ]] || ! grep -q 'Out of bounds values : 0 OK' "$log"; then
  echo "ompi_rails: wrong elements (#wrong=${wrong:-?})" >&2; ok=0
fi
((ok)) || { tail -n 20 "$log.err" >&2; }

d0=$((r0b - r0a)); d1=$((r1b - r1a))
share=$(awk -v a="$d0" -v b="$d1" 'BEGIN { s = a + b; if (s <= 0) { print "r0=0.0% r1=0.0% rx_MB=0"; exit }
  printf "r0=%.1f%% r1=%.1f%% rx_MB=%.1f", 100 * a / s, 100 * b / s, s / 1e6 }')

echo "ompi $SCEN busbw=${busbw:-NA} time_us=${time_us:-NA}"
echo "ompi $SCEN rail_share $share"
((ok)) || exit 1
exit 0
