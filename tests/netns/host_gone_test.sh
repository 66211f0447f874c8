#!/usr/bin/env bash
# A host gone without a word: both NICs of host 1 of a 2 x 2 job taken
# down (rail_fault.sh --hosts 1 down all) while all_reduce_perf runs.
# No socket closes, no process dies, host 0's own NICs stay up: only the
# silence tells (MRD_PROBE_PEER_LOST_MS). Every rank must fail with
# mrdRemoteError within 2 s of the fault, its error naming a rank of the
# other host (itself, or carried by a local peer that failed first).
#
#   host_gone_test.sh BENCH_DIR [TRIALS] [FAULT]
#
# BENCH_DIR holds all_reduce_perf. FAULT is "down" (the default) or
# "cut" (rail_fault.sh cut 0 1: every packet between the hosts dropped by
# nftables, both hosts' NICs up; its rules take effect somewhere within
# the commands' span, which under load can be a second, so the times are
# only as good as that). Times are from when the kernel reported every
# link down (rail_fault.sh's "whole after") or, for a cut, from the end of
# its commands; each trial also prints how long the commands took. Exits 77
# (SKIP) without root or `ip netns`. HOST_GONE_KEEP=1 keeps the ranks' logs.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench=${1:?usage: host_gone_test.sh BENCH_DIR [TRIALS]}/all_reduce_perf
trials=${2:-1}
fault_kind=${3:-down}
case $fault_kind in
  down) fault_cmd="--hosts 1 down all" ;;
  cut) fault_cmd="cut 0 1" ;;
  *) echo "host_gone_test.sh: FAULT is down or cut, not $fault_kind" >&2; exit 2 ;;
esac
bound_ms=${HOST_GONE_BOUND_MS:-2000}
[[ -x $bench ]] || { echo "host_gone_test.sh: no $bench" >&2; exit 2; }
tmp=$(mktemp -d /tmp/mrd_hostgone.XXXXXX)
[[ -n ${HOST_GONE_KEEP:-} ]] && echo "host_gone_test.sh: keeping $tmp" >&2 || trap 'rm -rf "$tmp"' EXIT

# Each rank through this wrapper: its exit status and the wall clock then
# (CLOCK_REALTIME is shared by the namespaces), and status 0 so the job
# runner does not kill the other ranks before they judge for themselves;
# it lingers 3 s, as the job's end would stop the fault command before it
# says when the fault took effect.
cat >"$tmp/rank.sh" <<'EOF'
#!/usr/bin/env bash
out=$1; shift
"$@"
echo "$? $(date +%s%N)" >"$out/exit$MRD_RANK"
sleep 3
exit 0
EOF
chmod +x "$tmp/rank.sh"

fails=0
all=()
for ((t = 1; t <= trials; t++)); do
  d=$tmp/t$t
  mkdir -p "$d/logs"
  # The cut once rank 0 has printed a result (setup done, traffic on both
  # hosts' links), then wait for the ranks.
  fault="for i in \$(seq 400); do grep -q '^ *[0-9]\\+ \\+[0-9]\\+ \\+float' $d/logs/rank0.log && break; sleep 0.05; done;
         sleep 0.3; $here/rail_fault.sh $fault_cmd > $d/cut.out"
  MRD_TIMEOUT_MS=${MRD_TIMEOUT_MS:-20000} "$here/netns_job.sh" --timeout 60 --rails 2 --ifname veth --quiet \
    --logs "$d/logs" --fault "$fault" 2,2 "$tmp/rank.sh" "$d" "$bench" -b 1M -e 1M -n 1000000 -w 1 -c 1
  rc=$?
  ((rc == 77)) && exit 77
  # "rail_fault <us since epoch>: ... (applied in <N> us[, in effect after
  # <E> us, whole after <W> us])": the fault is whole at stamp + W (down),
  # or by stamp + N at the latest (cut).
  fline=$(grep -m1 '^rail_fault [0-9]*:' "$d/cut.out" 2>/dev/null)
  stamp=$(sed -n 's/^rail_fault \([0-9]*\):.*/\1/p' <<<"$fline")
  applied=$(sed -n 's/.*(applied in \([0-9]*\) us.*/\1/p' <<<"$fline")
  whole=$(sed -n 's/.*whole after \([0-9]*\) us.*/\1/p' <<<"$fline")
  cut=""
  [[ -n $stamp && -n $applied ]] && cut=$((stamp + ${whole:-$applied}))
  [[ -n $cut ]] && cut=$((cut * 1000))
  if ((rc != 0)) || [[ -z $cut ]]; then
    echo "trial $t: job status $rc, cut: $(cat "$d/cut.out" 2>/dev/null)" >&2
    tail -n 20 "$d"/logs/*.log >&2
    fails=$((fails + 1))
    continue
  fi
  line="trial $t:"
  for r in 0 1 2 3; do
    read -r status at <"$d/exit$r" 2>/dev/null || { status=none; at=0; }
    ms=$(((at - cut) / 1000000))
    # Ranks 0, 1 on host 0; 2, 3 on host 1.
    if ((r < 2)); then other='rank [23]'; else other='rank [01]'; fi
    err=$(grep -m1 'failed:' "$d/logs/rank$r.log")
    verdict=ok
    if [[ $status == 0 || $status == none ]]; then
      verdict="did not fail (status $status)"
    elif ((ms > bound_ms)); then
      verdict="failed after $ms ms (bound $bound_ms)"
    elif ! grep -q 'remote' <<<"$err" || ! grep -q "no sign of life from $other" <<<"$err"; then
      verdict="error does not name the other host's rank: $err"
    fi
    line+=" r$r=${ms}ms"
    all+=("$ms")
    if [[ $verdict != ok ]]; then
      echo "trial $t rank $r: $verdict" >&2
      fails=$((fails + 1))
    fi
  done
  echo "$line (the fault's commands took $((applied / 1000)) ms)"
done
if ((${#all[@]} > 0)); then
  sorted=($(printf '%s\n' "${all[@]}" | sort -n))
  echo "cut to exit over ${#all[@]} rank exits: median ${sorted[$((${#sorted[@]} / 2))]} ms, max ${sorted[-1]} ms"
fi
((fails == 0)) || { echo "host_gone_test.sh: $fails failure(s)" >&2; exit 1; }
echo "every rank named the other host's rank within $bound_ms ms"
