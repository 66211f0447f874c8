#!/usr/bin/env bash
# The hosts of compare.py's netns settings: H network namespaces joined by
# R rails, one Linux bridge per rail, the same kind of veth/bridge rails as
# tests/netns/netns_job.sh. Meridian, Open MPI, Gloo and iperf3 all run in
# these namespaces, so they cross the same rails.
#
#   netns_topo.sh up TAG HOSTS RAILS   create TAGh0.., rails veth0.. inside
#   netns_topo.sh down TAG             end every process left in TAGh*, then
#                                      remove the namespaces, veths, bridges
#   netns_topo.sh stale                down for every cmp<pid> set whose
#                                      process <pid> is gone (a killed run)
#   netns_topo.sh rx TAG HOSTS RAILS   bytes received on each rail of each
#                                      host: "h<i> veth<r> BYTES" per line
#   netns_topo.sh run TAG HOSTS RAILS CMD...   up, run CMD, down (also on
#                                      Ctrl-C, TERM or a failing CMD)
#
# TAG is "cmp<pid>" (compare.py uses its own pid): at most 9 characters, so
# that TAGh<i>r<r> fits an interface name. Host i is namespace TAGh<i>; its
# rail r is veth<r> with 10.203.<r>.<i+1>/24 (bridge TAGb<r>, host-side end
# TAGh<i>r<r>). No address in the root namespace and no default route: the
# traffic stays between these namespaces. IPv6 is off inside them.
set -uo pipefail

die() { echo "netns_topo.sh: $*" >&2; exit 1; }

check_tag() {
  [[ $1 =~ ^cmp[0-9]{1,7}$ ]] || die "TAG must be cmp<digits> (at most 7), not '$1'"
}

tag_namespaces() {  # every namespace of this tag
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$1h[0-9]+$" || true
}

down() {
  local tag=$1 ns p l pids=() i
  for ns in $(tag_namespaces "$tag"); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do pids+=("$p"); done
  done
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null
    for ((i = 0; i < 20; i++)); do
      kill -0 "${pids[@]}" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null
  fi
  for ns in $(tag_namespaces "$tag"); do ip netns del "$ns" 2>/dev/null; done
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 |
             grep -E "^${tag}(h[0-9]+r[0-9]+|b[0-9]+)$"); do
    ip link del "$l" 2>/dev/null
  done
  return 0
}

up() {
  local tag=$1 hosts=$2 rails=$3 h r ns outer ok=1 try
  [[ $hosts =~ ^[1-9]$ ]] || die "HOSTS must be 1..9"
  [[ $rails =~ ^[1-4]$ ]] || die "RAILS must be 1..4"
  [[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
  down "$tag"
  for ((r = 0; r < rails; r++)); do
    ip link add "${tag}b$r" type bridge || { down "$tag"; die "cannot create bridge ${tag}b$r"; }
    # No STP wait; bridged frames skip the host's iptables (br_netfilter).
    ip link set "${tag}b$r" type bridge stp_state 0 forward_delay 0 2>/dev/null
    ip link set "${tag}b$r" type bridge nf_call_iptables 0 nf_call_ip6tables 0 2>/dev/null
    sysctl -qw "net.ipv6.conf.${tag}b$r.disable_ipv6=1" 2>/dev/null
    ip link set "${tag}b$r" up
  done
  for ((h = 0; h < hosts; h++)); do
    ns="${tag}h$h"
    ip netns add "$ns" || { down "$tag"; die "cannot create namespace $ns"; }
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
    for ((r = 0; r < rails; r++)); do
      outer="${tag}h${h}r$r"
      if ! { ip link add "$outer" type veth peer name "veth$r" netns "$ns" &&
             ip link set "$outer" master "${tag}b$r" up &&
             ip -n "$ns" addr add "10.203.$r.$((h + 1))/24" dev "veth$r" &&
             ip -n "$ns" link set "veth$r" up; }; then
        down "$tag"
        die "cannot set up rail $r of $ns"
      fi
    done
  done
  # Every host reaches host 0 on every rail (the bridges need a moment).
  for ((h = 1; h < hosts; h++)); do
    for ((r = 0; r < rails; r++)); do
      for ((try = 0; try < 5; try++)); do
        ip netns exec "${tag}h$h" ping -q -c 1 -W 1 "10.203.$r.1" >/dev/null 2>&1 && break
        sleep 0.2
      done
      ((try < 5)) || { echo "netns_topo.sh: ${tag}h$h cannot reach host 0 on rail $r" >&2; ok=0; }
    done
  done
  ((ok)) || { down "$tag"; exit 1; }
  echo "netns_topo.sh: up: $hosts hosts ${tag}h0..${tag}h$((hosts - 1)), $rails rails (veth<r>: 10.203.<r>.<host+1>/24)"
}

stale() {
  local ns tag pid seen=" "
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^cmp[0-9]+h[0-9]+$'); do
    tag=${ns%h*}
    [[ $seen == *" $tag "* ]] && continue
    seen+="$tag "
    pid=${tag#cmp}
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "netns_topo.sh: removing stale $tag (process $pid is gone)" >&2
      down "$tag"
    fi
  done
  # Bridges or veths whose namespaces are already gone.
  for ns in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 |
              grep -E '^cmp[0-9]+(h[0-9]+r[0-9]+|b[0-9]+)$'); do
    tag=$(sed -E 's/^(cmp[0-9]+)(h[0-9]+r[0-9]+|b[0-9]+)$/\1/' <<<"$ns")
    kill -0 "${tag#cmp}" 2>/dev/null || ip link del "$ns" 2>/dev/null
  done
  return 0
}

rx() {
  local tag=$1 hosts=$2 rails=$3 h r v
  for ((h = 0; h < hosts; h++)); do
    for ((r = 0; r < rails; r++)); do
      v=$(ip netns exec "${tag}h$h" cat "/sys/class/net/veth$r/statistics/rx_bytes" 2>/dev/null || echo 0)
      echo "h$h veth$r $v"
    done
  done
}

cmd=${1:-}
shift || true
case $cmd in
  up) (($# == 3)) || die "usage: up TAG HOSTS RAILS"; check_tag "$1"; up "$@" ;;
  down) (($# == 1)) || die "usage: down TAG"; check_tag "$1"; down "$1" ;;
  stale) stale ;;
  rx) (($# == 3)) || die "usage: rx TAG HOSTS RAILS"; check_tag "$1"; rx "$@" ;;
  run)
    (($# >= 4)) || die "usage: run TAG HOSTS RAILS CMD..."
    check_tag "$1"
    run_tag=$1
    trap 'down "$run_tag"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    up "$1" "$2" "$3" || exit 1
    shift 3
    "$@"
    exit $?
    ;;
  *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac
