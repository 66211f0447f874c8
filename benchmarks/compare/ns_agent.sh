#!/usr/bin/env bash
# Open MPI's "ssh" for compare.py's namespace hosts (--mca plm_rsh_agent):
# runs the daemon command in the namespace that owns the address, in a UTS
# namespace of its own named after it, so each namespace is a node with its
# own hostname to Open MPI.
#
#   ns_agent.sh [ssh options] 10.203.<rail>.<host+1> COMMAND...
#
# The namespace is ${CMP_NS_TAG}h<host> (CMP_NS_TAG in the environment,
# set by compare.py; mpirun passes its environment to the agent).
set -euo pipefail
tag=${CMP_NS_TAG:?CMP_NS_TAG is not set}
while (($#)) && [[ $1 == -* ]]; do
  case $1 in
    -o|-p|-l|-i|-F|-E|-b|-c|-m|-e|-J|-w) shift 2 ;;
    *) shift ;;
  esac
done
(($# >= 2)) || { echo "ns_agent.sh: usage: ns_agent.sh HOST COMMAND..." >&2; exit 2; }
host=$1
shift
if [[ $host =~ ^10\.203\.[0-9]+\.([0-9]+)$ ]]; then
  ns="${tag}h$((BASH_REMATCH[1] - 1))"
elif [[ $host =~ ^${tag}h[0-9]+$ ]]; then
  ns=$host
else
  echo "ns_agent.sh: unknown host '$host'" >&2
  exit 2
fi
# ssh hands the remote side one command line: the words, joined, for a shell.
# shellcheck disable=SC2016  # $1 and $2 are for the inner sh
exec ip netns exec "$ns" unshare --uts /bin/sh -c 'hostname "$1" && exec /bin/sh -c "$2"' \
  ns_agent "$ns" "$*"
