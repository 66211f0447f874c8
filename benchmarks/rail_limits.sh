#!/usr/bin/env bash
# The network's own limits between two namespace hosts, for comparing a
# link's busbw with what TCP gets: iperf3 in both directions at once (as an
# allreduce between two hosts sends), one stream on rail 0 alone, then one
# stream per rail on all rails together.
#
#   benchmarks/rail_limits.sh [--rails N] [--rate RATE] [--seconds S]
#
# Runs under tests/netns/netns_job.sh (root; 2 hosts x 1 rank); needs
# iperf3 (apt-get install iperf3). Prints one line per measurement:
#   rail 0 alone: 7.43 Gbit/s each way
#   rails 0-1 together: 15.00 Gbit/s each way (2.02x rail 0)
# (this machine, 2026-11-27, no --rate; with --rate 2gbit: 1.91 and 3.83)
set -uo pipefail

rails=2
rate=""
seconds=3
while (($# > 0)); do
  case $1 in
    --rails) rails=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --as-rank) break ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "rail_limits.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

if [[ ${1:-} != --as-rank ]]; then
  command -v iperf3 >/dev/null || { echo "rail_limits.sh: iperf3 is not installed (apt-get install iperf3)" >&2; exit 2; }
  here=$(cd "$(dirname "$0")" && pwd)
  exec "$here/../tests/netns/netns_job.sh" --rails "$rails" ${rate:+--rate "$rate"} --timeout $((seconds * 4 + 30)) \
    1,1 "$here/rail_limits.sh" --as-rank "$rails" "$seconds"
fi
rails=$2
seconds=$3

addr_of() {  # the address of veth$1 here
  ip -4 -o addr show dev "veth$1" | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p'
}
peer_of() {  # host 1's address on rail $1: same subnet, .2
  local a
  a=$(addr_of "$1")
  echo "${a%.*}.2"
}

if [[ $MRD_RANK == 1 ]]; then
  # The servers, one per rail, for both rounds; gone when this rank ends.
  pidfiles=()
  for ((k = 0; k < rails; k++)); do
    pidfiles+=("$(mktemp)")
    iperf3 -s -B "$(addr_of "$k")" -p $((5201 + k)) -D -I "${pidfiles[k]}" >/dev/null 2>&1
  done
  sleep $((2 * seconds + 6))
  for f in "${pidfiles[@]}"; do kill "$(cat "$f")" 2>/dev/null; rm -f "$f"; done
  exit 0
fi

# Rank 0: the clients. Gbit/s each way of one bidirectional run (sum of
# the sender sides / 2).
measure() {  # rail list
  local k pids=() outs=() total=0 f
  for k in "$@"; do
    f=$(mktemp)
    outs+=("$f")
    iperf3 -c "$(peer_of "$k")" -B "$(addr_of "$k")" -p $((5201 + k)) -t "$seconds" --bidir -J >"$f" 2>&1 &
    pids+=($!)
  done
  for k in "${pids[@]}"; do wait "$k"; done
  for f in "${outs[@]}"; do
    total=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e=d["end"]; print(float(sys.argv[2]) + (e["sum_sent"]["bits_per_second"] + e["sum_sent_bidir_reverse"]["bits_per_second"]) / 2 / 1e9)' "$f" "$total") ||
      { echo "rail_limits.sh: iperf3 failed: $(head -c 300 "$f")" >&2; exit 1; }
    rm -f "$f"
  done
  echo "$total"
}

sleep 1
one=$(measure 0) || exit 1
printf 'rail 0 alone: %.2f Gbit/s each way\n' "$one"
sleep 1.5
all_rails=()
for ((k = 0; k < rails; k++)); do all_rails+=("$k"); done
both=$(measure "${all_rails[@]}") || exit 1
printf 'rails 0-%d together: %.2f Gbit/s each way (%.2fx rail 0)\n' $((rails - 1)) "$both" \
  "$(python3 -c "print($both / $one)")"
