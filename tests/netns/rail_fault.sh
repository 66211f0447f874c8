#!/usr/bin/env bash
# Injects faults into the rails of a netns_job.sh job: limits a rail's rate,
# drops a share of its packets, takes it down, flaps it, and undoes it all.
#
#   rail_fault.sh [--hosts LIST] ACTION RAIL [ARGS]
#   rail_fault.sh cut|uncut HOST_A HOST_B
#   rail_fault.sh slow HOST_A HOST_B RATE | unslow HOST_A HOST_B
#
# Needs root and the job's topology in the environment, as netns_job.sh
# gives it to its ranks and to its --fault command: NETNS_JOB_HOSTS,
# NETNS_JOB_HOST_LINKS, NETNS_JOB_RAILS. Runs from the root namespace or
# from inside one of the job's namespaces (a rank, a benchmark's --fault
# hook): the hosts' veths are reached with `ip netns exec`, the host-side
# ends (bridge ports) in this namespace if they are here, else in the
# namespace of the nearest ancestor process that has them (netns_job.sh).
#
#   --hosts LIST   comma-separated host indices, e.g. 0,2 (default: every host)
#   RAIL           a rail index (0-based: veth<RAIL> in each host), or "all"
#   HOST_A HOST_B  two different host indices (cut, uncut, slow, unslow:
#                  they name their hosts, every rail; no --hosts)
#
# Actions:
#   rate RAIL RATE   limit each listed host's rail to RATE in both
#                    directions (tc tbf on its veth's egress and on the
#                    host-side veth's egress); RATE in tc syntax: 1gbit,
#                    400mbit, 50mbit. Replaces an earlier limit, including
#                    the one of netns_job.sh --rate.
#   loss RAIL PCT    each IPv4 packet crossing a listed host's rail, in
#                    either direction, is dropped with probability PCT%
#                    (integer 0..100), once, silently, as on the wire: by
#                    its receiver (nftables table inet mrd_fault, chain
#                    in<RAIL> on the input hook, in every host: a listed
#                    host drops from everyone, the others from the listed
#                    hosts). Not by the sender, where TCP would see a
#                    failed send, try again and lose nothing. A loss
#                    setting is the rail's: it replaces the rail's earlier
#                    one on every host, listed or not; 0 removes it. A
#                    "packet" is what the stack sees: with GSO over the
#                    veths, one TCP packet may carry up to 64 KB. ARP and
#                    IPv6 pass.
#   down RAIL        ip link set veth<RAIL> down in each listed host (this
#                    flushes its ARP entries: after up, the first packet
#                    waits for ARP, 1 s more if the peer's end was still
#                    down when it asked)
#   up RAIL          ... up, and puts the address / connected route back if
#                    it is missing
#   flap RAIL PERIOD_MS DURATION_S
#                    down for PERIOD_MS, up for PERIOD_MS, ... for DURATION_S
#                    seconds, in the foreground; ends with the rail up, also
#                    when stopped by SIGTERM / SIGINT
#   cut HOST_A HOST_B
#                    every IPv4 packet between host A and host B is
#                    dropped, on every rail, both ways, silently, by its
#                    receiver, as loss 100 would but for this pair only
#                    (chain cut<B> of table inet mrd_fault in A drops
#                    what comes from B's addresses, cut<A> in B from A's;
#                    both at once): A and B no longer reach each other
#                    over any rail, while each still talks to every other
#                    host. Cuts of other pairs stay; a loss setting on a
#                    rail applies on top. ARP and IPv6 pass.
#   uncut HOST_A HOST_B
#                    removes the cut between A and B (nothing to do if
#                    there is none)
#   slow HOST_A HOST_B RATE
#                    what host A sends to host B's addresses is shaped to
#                    RATE (per rail, tc syntax: 100mbit, 1gbit), and what
#                    B sends to A's, on every rail (an htb root on each
#                    host's veth: a class for the other host, the rest in
#                    a default class at the rail's earlier tbf rate): every
#                    path between A and B is slow but alive, while each
#                    still talks to every other host as before. A later
#                    rate or clear on the rail replaces it.
#   unslow HOST_A HOST_B
#                    removes it (nothing to do if there is none)
#   clear RAIL       removes the rate limits (both ends; also netns_job.sh
#                    --rate's) and sets the link up in each listed host,
#                    and removes the rail's loss setting (from every host,
#                    as it is the rail's; RAIL all: the whole table, so
#                    every cut too)
#
# Compose with sleep for timing, e.g.
#   netns_job.sh --rails 2 --fault 'sleep 2; tests/netns/rail_fault.sh rate 1 50mbit' ...
#
# The commands of rate, loss, down, up, cut and flap's steps go to one
# process per namespace (`tc -batch`, `ip -batch`, `nft -f`), started and
# made ready beforehand and then handed their commands all at once, so
# that the namespaces change within a millisecond or two of each other.
#
# Each action prints one line, "rail_fault <µs since epoch>: <what it did>
# (applied in <N> us)": when it began (before its first command) and how
# long its commands took, e.g. "rail_fault 1764250000123456: rate rail 1
# hosts 0,1 50mbit (tbf burst 16384b latency 50ms, both directions)
# (applied in 1320 us)" (flap: one line when it starts, one when it ends,
# stamped then). rate, down and up also say when the kernel reported the
# change (qdisc or link events, from `tc`/`ip -ts monitor` started before
# the commands): "(applied in N us, in effect after E us, whole after W
# us)", E from the first event (the first qdisc or link changed), W from
# the last of the events expected, one per qdisc or link changed (rate:
# each listed host's veth and its host-side end, per rail; down, up: each
# listed host's veth), so a reaction can be timed from the fault itself
# rather than from the commands' start, and from when all of it was in
# place. "whole after" is left out when an expected event never showed
# (e.g. up on a link that was up already), "in effect after" when none
# did. Exit status 0 when done, 1 when a command failed (with its message
# on stderr), 2 for a usage error or a missing NETNS_JOB_* variable.
set -uo pipefail
# A fault is applied while the job keeps every core busy: at the highest
# priority (root may) the commands run at once, so the time it took to
# apply, the uncertainty of every reaction measured from it, stays small.
renice -n -20 -p $$ >/dev/null 2>&1 || true

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2; }
die() { echo "rail_fault.sh: $*" >&2; exit 2; }
fail() { echo "rail_fault.sh: $*" >&2; exit 1; }

now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }  # whatever the locale's separator
now_ms() {
  local t
  t=$(now_us)
  echo "${t:0:${#t}-3}"
}
# The time an action started (before its first command), for its line.
stamp=""
effect=""
done_at=""
say() {
  local now
  now=${done_at:-$(now_us)}
  if [[ -n $stamp ]]; then
    echo "rail_fault $stamp: $* (applied in $((now - stamp)) us${effect:-})"
  else
    echo "rail_fault $now: $*"
  fi
}

# Kernel events while an action runs: `$1 -ts -n NS monitor [$2]` in each
# listed host (file h<H> of mon_dir; with $3 = root, also in the namespace
# of the host-side veths: file root), started before its commands
# (mon_start) and read after them (mon_effect). `done_at` marks the end of
# the commands themselves, for "applied in".
mon_dir=""
mon_pids=()
# (Also when the action fails midway: no monitor may outlive the script,
# its netlink socket would keep the job's namespace alive.)
mon_stop() {
  ((${#mon_pids[@]} > 0)) && kill "${mon_pids[@]}" 2>/dev/null
  [[ -n $mon_dir ]] && rm -rf "$mon_dir"
  mon_pids=()
  mon_dir=""
}
trap 'batch_stop; mon_stop' EXIT
mon_start() {
  local h
  mon_dir=$(mktemp -d)
  mon_pids=()
  for h in "${hosts[@]}"; do
    "$1" -ts -n "${namespaces[h]}" monitor ${2:+"$2"} >"$mon_dir/h$h" 2>/dev/null &
    mon_pids+=($!)
  done
  if [[ ${3:-} == root ]]; then
    "${root_cmd[@]}" "$1" -ts monitor ${2:+"$2"} >"$mon_dir/root" 2>/dev/null &
    mon_pids+=($!)
  fi
  sleep 0.05  # subscribed before the first command
}
# mon_effect EVENT_RE EXPECTED...: ", in effect after E us, whole after W
# us". EVENT_RE (an ERE) matches a monitor line that reports the change,
# its first group being the line's time stamp, its second the device;
# EXPECTED are the changes, "FILE DEV" each (FILE: h<H> or root, as above).
# A device's change is its first matching line; E is from `stamp` to the
# earliest change, W to the latest. Without every expected change seen
# there is no "whole after" (the kernel may not report a change that
# changes nothing, e.g. up on a link that is up); without any, nothing.
mon_effect() {
  local re=$1 f line key t us first="" last="" missing=0
  local -A seen=() secs=()
  shift
  sleep 0.01  # the last events read
  kill "${mon_pids[@]}" 2>/dev/null
  for f in "$mon_dir"/*; do
    while IFS= read -r line; do
      [[ $line =~ $re ]] || continue
      key="${f##*/} ${BASH_REMATCH[2]}"
      [[ -n ${seen[$key]:-} ]] || seen[$key]=${BASH_REMATCH[1]}
    done <"$f"
  done
  rm -rf "$mon_dir"
  mon_dir=""
  for key in "$@"; do
    t=${seen[$key]:-}
    # "2026-11-27T19:54:07.026402", local time: `date` for the second (once
    # per second seen), then the microseconds.
    if [[ -n $t && -z ${secs[${t%.*}]:-} ]]; then
      secs[${t%.*}]=$(date -d "${t%.*}" +%s 2>/dev/null)
    fi
    if [[ -z $t || -z ${secs[${t%.*}]:-} ]]; then
      missing=1
      continue
    fi
    us=$((secs[${t%.*}] * 1000000 + 10#${t##*.}))
    [[ -z $first || $us -lt $first ]] && first=$us
    [[ -z $last || $us -gt $last ]] && last=$us
  done
  [[ -n $first ]] || return 0
  echo -n ", in effect after $((first > stamp ? first - stamp : 0)) us"
  ((missing)) || echo -n ", whole after $((last > stamp ? last - stamp : 0)) us"
  echo
}

# Commands prepared per namespace and sent at once. Starting a process
# (fork, exec, its libraries, entering the namespace, opening its netlink
# socket) takes milliseconds when the job keeps every core busy, far more
# than its commands: with a process per command, all started at once, a
# rate fault's first qdisc changed 5-11 ms after its start and the last
# up to 5 ms after that, the commands taking 13-18 ms in all. So each
# namespace's commands go to one process that reads them from its stdin,
# a FIFO: batch_add starts it, batch_ready waits until every one is ready
# (blocked reading), and batch_go writes all their commands and closes
# the FIFOs, then waits for them; they then differ only in how soon each
# gets a core.
batch_dir=""
batch_pids=()
batch_fds=()
batch_inputs=()
batch_cmds=()
# batch_add INPUT CMD...: starts CMD, to run the commands of INPUT (lines).
batch_add() {
  local input=$1 i=${#batch_pids[@]} fd f
  shift
  if [[ -z $batch_dir ]]; then batch_dir=$(mktemp -d) || fail "mktemp failed"; fi
  mkfifo "$batch_dir/in$i" || fail "mkfifo $batch_dir/in$i failed"
  # Opened for reading and writing, so neither this nor the process's
  # open blocks; it sees end-of-file only once we close it (batch_go).
  exec {fd}<>"$batch_dir/in$i"
  batch_fds+=("$fd")
  batch_inputs+=("$input")
  batch_cmds+=("$*")
  (
    # Holding any of the FIFOs open, this or a later process would never
    # see its end-of-file.
    for f in "${batch_fds[@]}"; do exec {f}>&-; done
    exec "$@" <"$batch_dir/in$i" >"$batch_dir/out$i" 2>&1
  ) &
  batch_pids+=($!)
}
# Waits until every process blocks reading its FIFO ("pipe" in its wchan;
# the wrappers, nsenter and `ip netns exec`, do not read it) or has ended,
# polling every millisecond (a read timing out on a FIFO of our own: no
# process to start, no core taken from theirs), for at most about 0.5 s:
# then they are only less simultaneous. Then swaps our descriptors for
# write-only ones: once a process is gone, a write to its FIFO fails
# rather than blocking when the pipe is full.
batch_ready() {
  local i p w st fd f nap tries
  ((${#batch_pids[@]} > 0)) || return 0
  mkfifo "$batch_dir/nap" || fail "mkfifo $batch_dir/nap failed"
  exec {nap}<>"$batch_dir/nap"
  for ((tries = 0; tries < 500; tries++)); do
    for p in "${batch_pids[@]}"; do
      w=""
      st=""
      read -r w 2>/dev/null <"/proc/$p/wchan"
      read -r _ _ st _ 2>/dev/null <"/proc/$p/stat"
      [[ $w == *pipe* || -z $st || $st == Z ]] || break
    done
    [[ $w == *pipe* || -z $st || $st == Z ]] && break
    read -r -t 0.001 -u "$nap" _
  done
  exec {nap}>&-
  for i in "${!batch_fds[@]}"; do
    exec {fd}>"$batch_dir/in$i"
    f=${batch_fds[i]}
    exec {f}>&-
    batch_fds[i]=$fd
  done
}
# The fault itself: every process ready, the stamp, then their commands.
batch_fire() {
  batch_ready
  stamp=$(now_us)
  batch_go
}
# Hands every process its commands, then waits for each; exits 1 with the
# commands, output and input of those that failed.
batch_go() {
  local i fd msg=""
  # (A process that failed to start or stopped at a failed command: the
  # write to its FIFO fails, SIGPIPE ignored meanwhile, and the wait says
  # why.)
  trap '' PIPE
  for i in "${!batch_fds[@]}"; do printf '%s\n' "${batch_inputs[i]}" 1>&"${batch_fds[i]}" 2>/dev/null; done
  for fd in "${batch_fds[@]}"; do exec {fd}>&-; done
  trap - PIPE
  batch_fds=()
  for i in "${!batch_pids[@]}"; do
    wait "${batch_pids[i]}" && continue
    msg+="${msg:+$'\n'}failed: ${batch_cmds[i]}: $(cat "$batch_dir/out$i" 2>/dev/null)"$'\n'"${batch_inputs[i]}"
  done
  batch_pids=()
  batch_inputs=()
  batch_cmds=()
  [[ -z $batch_dir ]] || rm -rf "$batch_dir"
  batch_dir=""
  [[ -z $msg ]] || fail "$msg"
}
# Drops what batch_add prepared and batch_go has not run (closed FIFOs:
# an empty input, nothing done), e.g. when the script exits midway.
# shellcheck disable=SC2317  # called by the traps
batch_stop() {
  local fd
  for fd in "${batch_fds[@]}"; do exec {fd}>&-; done
  ((${#batch_pids[@]} > 0)) && kill "${batch_pids[@]}" 2>/dev/null
  [[ -n $batch_dir ]] && rm -rf "$batch_dir"
  batch_dir=""
  batch_pids=()
  batch_fds=()
  batch_inputs=()
  batch_cmds=()
}

# Runs a command; on failure, exits 1 with the command and its output.
run() {
  local out
  out=$("$@" 2>&1) || fail "failed: $*${out:+: $out}"
}
# Same, with $1 on stdin.
run_in() {
  local input=$1 out
  shift
  out=$("$@" 2>&1 <<<"$input") || fail "failed: $*${out:+: $out}"$'\n'"$input"
}

host_list=""
while (($# > 0)); do
  case $1 in
    --hosts) (($# >= 2)) || die "--hosts needs a list"; host_list=$2; shift 2 ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
(($# >= 1)) || usage
action=$1
shift
# cut and uncut name two hosts; every other action a rail first.
pair_action=0
case $action in
  cut|uncut|unslow)
    pair_action=1
    (($# == 2)) || die "usage: $action HOST_A HOST_B"
    [[ -z $host_list ]] || die "$action names its two hosts: no --hosts"
    pair_args=("$1" "$2")
    shift 2
    ;;
  slow)
    pair_action=1
    (($# == 3)) || die "usage: slow HOST_A HOST_B RATE"
    [[ -z $host_list ]] || die "slow names its two hosts: no --hosts"
    pair_args=("$1" "$2")
    slow_rate=$3
    shift 3
    ;;
  *)
    (($# >= 1)) || usage
    rail_arg=$1
    shift
    ;;
esac

[[ -n ${NETNS_JOB_HOSTS:-} && -n ${NETNS_JOB_HOST_LINKS:-} && -n ${NETNS_JOB_RAILS:-} ]] ||
  die "NETNS_JOB_HOSTS, NETNS_JOB_HOST_LINKS and NETNS_JOB_RAILS must be set (netns_job.sh sets them for its ranks and its --fault command)"
read -r -a namespaces <<<"$NETNS_JOB_HOSTS"
read -r -a host_links <<<"$NETNS_JOB_HOST_LINKS"
rails=$NETNS_JOB_RAILS
nhosts=${#namespaces[@]}
[[ $rails =~ ^[1-9][0-9]*$ ]] || die "bad NETNS_JOB_RAILS '$rails'"
((${#host_links[@]} == nhosts * rails)) ||
  die "NETNS_JOB_HOST_LINKS has ${#host_links[@]} names, not hosts x rails = $((nhosts * rails))"
[[ $(id -u) == 0 ]] || die "needs root"

# Listed hosts, in the given order, without repeats.
hosts=()
if [[ -z $host_list ]]; then
  for ((h = 0; h < nhosts; h++)); do hosts+=("$h"); done
else
  [[ $host_list =~ ^[0-9]{1,4}(,[0-9]{1,4})*$ ]] || die "bad --hosts '$host_list' (comma-separated host indices)"
  declare -A seen=()
  IFS=, read -r -a list <<<"$host_list"
  for h in "${list[@]}"; do
    h=$((10#$h))
    ((h < nhosts)) || die "host $h: the job has $nhosts hosts (0..$((nhosts - 1)))"
    [[ -n ${seen[$h]:-} ]] && continue
    seen[$h]=1
    hosts+=("$h")
  done
fi
hosts_label=$(IFS=,; echo "${hosts[*]}")

sel_rails=()
if ((pair_action)); then
  # Every rail, between the two hosts named.
  for ((k = 0; k < rails; k++)); do sel_rails+=("$k"); done
  hosts=()
  for h in "${pair_args[@]}"; do
    [[ $h =~ ^[0-9]{1,4}$ ]] || die "bad host '$h' (a host index)"
    h=$((10#$h))
    ((h < nhosts)) || die "host $h: the job has $nhosts hosts (0..$((nhosts - 1)))"
    hosts+=("$h")
  done
  ((hosts[0] != hosts[1])) || die "$action: two different hosts, not $h and $h"
  hosts_label=$(IFS=,; echo "${hosts[*]}")
  # (No "rail N" in it: link_fault_perf would take the fault for that rail's.)
  what="hosts $hosts_label"
else
  if [[ $rail_arg == all ]]; then
    for ((k = 0; k < rails; k++)); do sel_rails+=("$k"); done
  else
    [[ $rail_arg =~ ^[0-9]{1,4}$ ]] || die "bad RAIL '$rail_arg' (an index or 'all')"
    k=$((10#$rail_arg))
    ((k < rails)) || die "rail $k: the job has $rails rails (0..$((rails - 1)))"
    sel_rails=("$k")
    rail_arg=$k
  fi
  what="rail $rail_arg hosts $hosts_label"
fi

# The host-side veths are in the namespace netns_job.sh runs in: this one,
# or, when we run inside one of the job's namespaces, an ancestor's (PID 1's
# may not be open to us). root_cmd runs a command there, through a file
# descriptor on the namespace, valid even if that ancestor exits.
root_cmd=()
root_found=0
find_root() {
  ((root_found)) && return 0
  local link=${host_links[0]} own p ns fd
  if ip link show dev "$link" >/dev/null 2>&1; then
    root_found=1
    return 0
  fi
  own=$(readlink /proc/$$/ns/net)
  p=$PPID
  while [[ $p =~ ^[0-9]+$ ]] && ((p > 0)); do
    ns=$(readlink "/proc/$p/ns/net" 2>/dev/null)
    if [[ -n $ns && $ns != "$own" ]] && exec {fd}<"/proc/$p/ns/net" 2>/dev/null; then
      if nsenter --net="/proc/$$/fd/$fd" ip link show dev "$link" >/dev/null 2>&1; then
        root_cmd=(nsenter --net="/proc/$$/fd/$fd")
        root_found=1
        return 0
      fi
      exec {fd}<&-
    fi
    p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
  done
  fail "cannot find the host-side veth $link, neither in this namespace nor in an ancestor process's"
}

# 10.(77+k).X.(h+1): X from whichever host still has its address on rail k.
rail_subnet() {
  local k=$1 ns line
  for ns in "${namespaces[@]}"; do
    line=$(ip -n "$ns" -4 -o addr show dev "veth$k" 2>/dev/null)
    if [[ $line =~ inet\ 10\.$((77 + k))\.([0-9]+)\.[0-9]+/ ]]; then
      echo "${BASH_REMATCH[1]}"
      return 0
    fi
  done
  fail "no host has an address on veth$k"
}

# Prepares setting the selected rails of the listed hosts up or down ($1):
# one `ip -batch` per host, run at once by batch_go, so that the ends of a
# link change within about a millisecond of each other. (Taking a veth
# down flushes its ARP entries; an ARP request sent while the other end is
# still down is retried only after 1 s.)
links_prepare() {
  local h k cmds
  for h in "${hosts[@]}"; do
    cmds=""
    for k in "${sel_rails[@]}"; do cmds+="${cmds:+$'\n'}link set dev veth$k $1"; done
    batch_add "$cmds" ip -n "${namespaces[h]}" -batch -
  done
}
set_links() { links_prepare "$1"; batch_ready; batch_go; }

# Once up: puts back an address or connected route that went missing (the
# kernel keeps IPv4 addresses on a down link and adds the route back on up,
# so this normally finds nothing to do).
check_addrs() {
  local h k ns x addr net
  for k in "${sel_rails[@]}"; do
    x=$(rail_subnet "$k") || exit 1
    net="10.$((77 + k)).$x.0/24"
    for h in "${hosts[@]}"; do
      ns=${namespaces[h]}
      addr="10.$((77 + k)).$x.$((h + 1))"
      if [[ $(ip -n "$ns" -4 -o addr show dev "veth$k") != *"inet $addr/"* ]]; then
        run ip -n "$ns" addr add "$addr/24" dev "veth$k"
      elif [[ -z $(ip -n "$ns" -4 route show "$net" dev "veth$k") ]]; then
        run ip -n "$ns" route replace "$net" dev "veth$k" proto kernel scope link src "$addr"
      fi
    done
  done
}
links_up() { set_links up; check_addrs; }

# Removes a root tbf (or slow's htb) from a device; $@ before it: how to
# reach its namespace.
del_tbf() {
  local dev=${*: -1}
  local -a pre=("${@:1:$#-1}")
  local root
  root=$("${pre[@]}" tc qdisc show dev "$dev" root 2>/dev/null)
  if [[ $root == "qdisc tbf "* || $root == "qdisc htb "* ]]; then
    run "${pre[@]}" tc qdisc del dev "$dev" root
  fi
}

# nft commands removing the loss chains of the rails given, in one host.
# Adding before deleting makes it a no-op when they are absent (nftables
# 1.0.6 has no "destroy").
nft_del_rails() {
  local k
  echo "add table inet mrd_fault"
  for k in "$@"; do
    echo "add chain inet mrd_fault in$k { type filter hook input priority 0; policy accept; }"
    echo "flush chain inet mrd_fault in$k"
    echo "delete chain inet mrd_fault in$k"
  done
}

# Deletes the table of host $1 if no chain is left in it.
nft_drop_empty_table() {
  local ns=${namespaces[$1]} listing
  listing=$(ip netns exec "$ns" nft list table inet mrd_fault 2>/dev/null) || return 0
  grep -q 'chain ' <<<"$listing" || run ip netns exec "$ns" nft delete table inet mrd_fault
}

stamp=$(now_us)
case $action in
  rate)
    (($# == 1)) || die "usage: rate RAIL RATE"
    rate=$1
    rate_lc=${rate,,}
    [[ $rate_lc =~ ^([0-9]+(\.[0-9]+)?)([kmgt]?)(i?)(bit|bps)?$ ]] ||
      die "bad RATE '$rate' (tc syntax: 1gbit, 400mbit, 50mbit)"
    # Burst (the bucket): 2 ms at the rate, at least 16 KB. A smaller bucket
    # needs a wake-up of the qdisc watchdog every few packets at high rates,
    # and falls short of RATE when the wake-ups come late (busy cores); a
    # much larger one lets bursts at full veth speed through, so the rate
    # only holds over long intervals. The 16 KB floor is > 10 full-size
    # packets (MTU 1500), so low rates still let packets out in small
    # groups rather than singly, and GSO packets are split into few pieces.
    # Latency 50 ms: the queue holds 50 ms at the rate (on top of the
    # bucket), enough for TCP to keep the link busy without a long standing
    # queue; packets beyond it are dropped.
    burst=$(awk -v n="${BASH_REMATCH[1]}" -v p="${BASH_REMATCH[3]}" -v i="${BASH_REMATCH[4]}" \
      -v u="${BASH_REMATCH[5]}" 'BEGIN {
        base = (i == "i") ? 1024 : 1000
        e = index("kmgt", p); m = 1; for (j = 0; j < e && p != ""; j++) m *= base
        bits = n * m * (u == "bps" ? 8 : 1)
        b = bits / 8 * 0.002
        if (b < 16384) b = 16384
        printf "%d", b + 0.5 }')
    ((burst > 0)) || die "bad RATE '$rate'"
    find_root
    mon_start tc "" root
    # Every qdisc at once: one `tc -batch` per host (tc -n: no mount
    # namespace to set up) and one for the host-side ends, ready before
    # the stamp, so the fault takes effect within a millisecond or two, and
    # its line says when it began. Each qdisc changed is an expected event.
    # A new qdisc, not a changed one: on this kernel (6.18) a tbf changed
    # from 2 Gbit/s to 100 Mbit/s under load sometimes stopped sending
    # anything for good (iperf3 over the rail at 0 bit/s, pings lost, for
    # 10+ s: a dead rail instead of a slow one; 2 of 2 runs with 4 streams).
    # Deleting it drops its queue, as a rate cut on a real link loses what
    # it held.
    tbf="root tbf rate $rate burst $burst latency 50ms"
    # "qdisc del" where the device has a root qdisc of ours, then "add".
    renew() {  # dev, then how to reach its namespace
      local dev=$1 root
      shift
      root=$("$@" tc qdisc show dev "$dev" root 2>/dev/null)
      if [[ $root == "qdisc tbf "* || $root == "qdisc htb "* ]]; then
        printf 'qdisc del dev %s root\n' "$dev"
      fi
      printf 'qdisc add dev %s %s' "$dev" "$tbf"
    }
    root_cmds=""
    expected=()
    for h in "${hosts[@]}"; do
      cmds=""
      for k in "${sel_rails[@]}"; do
        cmds+="${cmds:+$'\n'}$(renew "veth$k" ip netns exec "${namespaces[h]}")"
        root_cmds+="${root_cmds:+$'\n'}$(renew "${host_links[h * rails + k]}" "${root_cmd[@]}")"
        expected+=("h$h veth$k" "root ${host_links[h * rails + k]}")
      done
      batch_add "$cmds" tc -n "${namespaces[h]}" -batch -
    done
    batch_add "$root_cmds" "${root_cmd[@]}" tc -batch -
    batch_fire
    done_at=$(now_us)
    effect=$(mon_effect '^\[([^]]+)\] qdisc tbf [^ ]+ dev ([^ ]+) root( |$)' "${expected[@]}")
    say "rate $what $rate (tbf burst ${burst}b latency 50ms, both directions)"
    ;;

  loss)
    (($# == 1)) || die "usage: loss RAIL PCT"
    pct=$1
    if ! [[ $pct =~ ^[0-9]{1,3}$ ]] || ((10#$pct > 100)); then die "bad PCT '$pct' (an integer 0..100)"; fi
    pct=$((10#$pct))
    # Every packet is dropped (or not) once, by its receiver, on the input
    # hook: a listed host drops from everyone, another host from the listed
    # hosts' addresses. Not on the sender's output hook: a packet dropped
    # there fails to send (EPERM, or a transmit error for TCP, which just
    # sends it again later: no loss, no retransmission), nothing like a
    # packet lost on the wire.
    declare -A listed_addrs=() is_listed=()
    for h in "${hosts[@]}"; do is_listed[$h]=1; done
    for k in "${sel_rails[@]}"; do
      x=$(rail_subnet "$k") || exit 1
      a=""
      for h in "${hosts[@]}"; do a+="${a:+, }10.$((77 + k)).$x.$((h + 1))"; done
      listed_addrs[$k]=$a
    done
    # numgen random mod 100 is 0..99: "< 100" is out of its range.
    chance="numgen random mod 100 < $pct "
    ((pct == 100)) && chance=""
    # Every host, listed or not: the rail's earlier setting goes everywhere.
    # One `nft -f` per host, all at once (batch_go), so that no host drops
    # long before the others.
    changed=()
    for ((h = 0; h < nhosts; h++)); do
      ns=${namespaces[h]}
      if ((pct == 0)); then
        ip netns exec "$ns" nft list table inet mrd_fault >/dev/null 2>&1 || continue
      fi
      changed+=("$h")
      script=$(nft_del_rails "${sel_rails[@]}")
      if ((pct > 0)); then
        for k in "${sel_rails[@]}"; do
          match="meta nfproto ipv4 iifname \"veth$k\""
          [[ -n ${is_listed[$h]:-} ]] || match+=" ip saddr { ${listed_addrs[$k]} }"
          script+=$'\n'"add chain inet mrd_fault in$k { type filter hook input priority 0; policy accept; }"
          script+=$'\n'"add rule inet mrd_fault in$k $match ${chance}drop"
        done
      fi
      batch_add "$script" ip netns exec "$ns" nft -f -
    done
    batch_fire
    done_at=$(now_us)
    # (Tidying only: an empty table drops nothing.)
    if ((pct == 0)); then
      for h in "${changed[@]}"; do nft_drop_empty_table "$h"; done
    fi
    say "loss $what $pct%"
    ;;

  down|up)
    (($# == 0)) || die "usage: $action RAIL"
    mon_start ip link
    links_prepare "$action"
    batch_fire
    [[ $action == up ]] && check_addrs
    done_at=$(now_us)
    # Each listed host's veths, as they reach the state (up: once they
    # have a carrier, the host-side ends being up).
    expected=()
    for h in "${hosts[@]}"; do
      for k in "${sel_rails[@]}"; do expected+=("h$h veth$k"); done
    done
    effect=$(mon_effect '^\[([^]]+)\] [0-9]+: ([^@: ]+)[@:].* state '"${action^^}"'( |$)' "${expected[@]}")
    say "$action $what"
    ;;

  flap)
    (($# == 2)) || die "usage: flap RAIL PERIOD_MS DURATION_S"
    if ! [[ $1 =~ ^[0-9]{1,9}$ ]] || ((10#$1 == 0)); then die "bad PERIOD_MS '$1' (a positive integer)"; fi
    if ! [[ $2 =~ ^[0-9]{1,9}$ ]] || ((10#$2 == 0)); then die "bad DURATION_S '$2' (a positive integer)"; fi
    period_ms=$((10#$1))
    duration_s=$((10#$2))
    period_s=$(printf '%d.%03d' $((period_ms / 1000)) $((period_ms % 1000)))
    cycles=0
    sleeper=""
    # shellcheck disable=SC2317  # called by the traps below
    stopped() {
      [[ -n $sleeper ]] && kill "$sleeper" 2>/dev/null
      batch_stop  # a step cut short
      links_up
      stamp=""
      say "flap $what stopped by SIG$1 after $cycles cycles; up"
      exit $((128 + $2))
    }
    trap 'stopped TERM 15' TERM
    trap 'stopped INT 2' INT
    # Sleeps in the background so that a signal is handled at once.
    nap() { sleep "$period_s" & sleeper=$!; wait "$sleeper"; sleeper=""; }
    say "flap $what period ${period_ms}ms for ${duration_s}s"
    end=$(($(now_ms) + duration_s * 1000))
    while (($(now_ms) < end)); do
      set_links down
      nap
      set_links up
      cycles=$((cycles + 1))
      (($(now_ms) < end)) && nap
    done
    check_addrs
    stamp=""
    say "flap $what done: $cycles cycles; up"
    ;;

  cut|uncut)
    # Each host drops what comes from the other's addresses, on every rail:
    # by the receiver, on the input hook, like loss (a packet dropped by its
    # sender fails to send, and TCP just sends it again). A chain per other
    # host (cut<B> in A), so that uncutting one pair leaves the cuts of the
    # others.
    subnets=()
    for k in "${sel_rails[@]}"; do subnets[k]=$(rail_subnet "$k") || exit 1; done
    scripts=()
    for i in 0 1; do
      h=${hosts[i]}
      other=${hosts[1 - i]}
      ns=${namespaces[h]}
      if [[ $action == uncut ]] && ! ip netns exec "$ns" nft list table inet mrd_fault >/dev/null 2>&1; then
        scripts[i]=""
        continue
      fi
      script="add table inet mrd_fault"
      script+=$'\n'"add chain inet mrd_fault cut$other { type filter hook input priority 0; policy accept; }"
      script+=$'\n'"flush chain inet mrd_fault cut$other"
      if [[ $action == cut ]]; then
        a=""
        for k in "${sel_rails[@]}"; do a+="${a:+, }10.$((77 + k)).${subnets[k]}.$((other + 1))"; done
        script+=$'\n'"add rule inet mrd_fault cut$other meta nfproto ipv4 ip saddr { $a } drop"
      else
        script+=$'\n'"delete chain inet mrd_fault cut$other"
      fi
      scripts[i]=$script
    done
    # Both hosts at once, so that neither direction is cut long before the
    # other.
    for i in 0 1; do
      [[ -n ${scripts[i]} ]] || continue
      batch_add "${scripts[i]}" ip netns exec "${namespaces[hosts[i]]}" nft -f -
    done
    batch_fire
    done_at=$(now_us)
    if [[ $action == cut ]]; then
      say "cut $what (all IPv4 between them dropped by the receiver, on all $rails rails, both ways)"
    else
      for h in "${hosts[@]}"; do nft_drop_empty_table "$h"; done
      say "uncut $what (no cut between them)"
    fi
    ;;

  slow|unslow)
    # Shaped on each host's own veth egress (host A towards B's addresses,
    # B towards A's), by an htb root whose default class keeps the rail's
    # earlier limit (netns_job.sh --rate's tbf, or none) and a class per
    # other host (1:<10+B>, filter priority 1+B) at RATE, so several slow
    # pairs can share a host. unslow removes the pair's filter and class:
    # the default class shapes as the tbf did.
    if [[ $action == slow ]]; then
      [[ $slow_rate =~ ^[0-9]+(kbit|mbit|gbit)$ ]] || die "bad rate '$slow_rate' (e.g. 100mbit, 1gbit)"
    fi
    subnets=()
    for k in "${sel_rails[@]}"; do subnets[k]=$(rail_subnet "$k") || exit 1; done
    for i in 0 1; do
      h=${hosts[i]}
      other=${hosts[1 - i]}
      ns=${namespaces[h]}
      cmds=""
      for k in "${sel_rails[@]}"; do
        dev=veth$k
        root=$(tc -n "$ns" qdisc show dev "$dev" root)
        if [[ $action == unslow ]]; then
          [[ $root == *"qdisc htb 1:"* ]] || continue
          [[ -n $(tc -n "$ns" class show dev "$dev" classid "1:$((other + 10))") ]] || continue
          cmds+="${cmds:+$'\n'}filter del dev $dev parent 1: prio $((other + 1))"
          cmds+=$'\n'"class del dev $dev classid 1:$((other + 10))"
          continue
        fi
        if [[ $root != *"qdisc htb 1:"* ]]; then
          # The rail's own limit so far (tbf rate), else none to speak of.
          def=100gbit
          [[ $root =~ qdisc\ tbf.*\ rate\ ([0-9.]+[KMGT]?bit) ]] && def=${BASH_REMATCH[1],,}
          cmds+="${cmds:+$'\n'}qdisc replace dev $dev root handle 1: htb default 1"
          cmds+=$'\n'"class add dev $dev parent 1: classid 1:1 htb rate $def"
        fi
        cmds+="${cmds:+$'\n'}class replace dev $dev parent 1: classid 1:$((other + 10)) htb rate $slow_rate"
        cmds+=$'\n'"filter replace dev $dev parent 1: prio $((other + 1)) protocol ip u32 match ip dst 10.$((77 + k)).${subnets[k]}.$((other + 1))/32 flowid 1:$((other + 10))"
      done
      [[ -n $cmds ]] && batch_add "$cmds" tc -n "$ns" -batch -
    done
    batch_fire
    done_at=$(now_us)
    if [[ $action == slow ]]; then
      say "slow $what (each way, each of $rails rails: shaped to $slow_rate by htb)"
    else
      say "unslow $what (not shaped between them)"
    fi
    ;;

  clear)
    (($# == 0)) || die "usage: clear RAIL"
    find_root
    for h in "${hosts[@]}"; do
      for k in "${sel_rails[@]}"; do
        del_tbf ip netns exec "${namespaces[h]}" "veth$k"
        del_tbf "${root_cmd[@]}" "${host_links[h * rails + k]}"
      done
    done
    # A loss setting is the rail's: it goes from every host.
    for ((h = 0; h < nhosts; h++)); do
      ns=${namespaces[h]}
      ip netns exec "$ns" nft list table inet mrd_fault >/dev/null 2>&1 || continue
      if [[ $rail_arg == all ]]; then
        run ip netns exec "$ns" nft delete table inet mrd_fault
      else
        run_in "$(nft_del_rails "${sel_rails[@]}")" ip netns exec "$ns" nft -f -
        nft_drop_empty_table "$h"
      fi
    done
    links_up
    if [[ $rail_arg == all ]]; then
      say "clear $what (no rate limit, no loss, no cut, up)"
    else
      say "clear $what (no rate limit, no loss, up)"
    fi
    ;;

  *) die "unknown action '$action' (rate, loss, down, up, flap, cut, uncut, slow, unslow, clear; -h for help)" ;;
esac
exit 0
