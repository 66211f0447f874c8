#!/usr/bin/env bash
# Configuration errors are caught at init with a plain message, fast:
#   - a /dev/shm too small for the shared-memory rings (a private mount
#     namespace with a 256 KiB tmpfs over /dev/shm; needs root and unshare:
#     skipped otherwise), instead of SIGBUS when the ring is first written;
#   - MRD_SOCKET_IFNAME matching no interface;
#   - a root address nobody listens at (MRD_COMM_ID), within MRD_TIMEOUT_MS.
# Usage: config_errors_test.sh MRDRUN ALL_REDUCE_PERF
set -uo pipefail
mrdrun=$1
bench=$2
fail=0
tmp=$(mktemp -d /tmp/mrd_cfgerr.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# expect NAME PATTERN MAX_SECONDS command...: fails, within the time, saying PATTERN.
expect() {
  local name=$1 pattern=$2 max=$3
  shift 3
  local t0=$SECONDS
  timeout 60 "$@" >"$tmp/$name.log" 2>&1
  local rc=$? took=$((SECONDS - t0))
  if ((rc == 0)); then
    echo "$name: succeeded, expected a failure"; cat "$tmp/$name.log"; fail=1
  elif ((rc == 124)); then
    echo "$name: hung (killed after 60 s)"; tail -20 "$tmp/$name.log"; fail=1
  elif ! grep -q -- "$pattern" "$tmp/$name.log"; then
    echo "$name: no '$pattern' in:"; tail -20 "$tmp/$name.log"; fail=1
  elif ((took > max)); then
    echo "$name: took ${took}s (at most ${max}s)"; fail=1
  elif grep -q "SIGBUS\|core dumped\|killed by signal" "$tmp/$name.log"; then
    echo "$name: crashed:"; tail -20 "$tmp/$name.log"; fail=1
  else
    echo "$name: ok ($(grep -m1 -o -- "$pattern.*" "$tmp/$name.log" | cut -c1-160))"
  fi
}

if [[ $(id -u) == 0 ]] && unshare -m true 2>/dev/null; then
  # 2 ranks, 1 MiB rings: far beyond 256 KiB.
  expect shm_full "/dev/shm has .* bytes free, too few for the shared-memory segment" 20 \
    unshare -m bash -c 'mount -t tmpfs -o size=256k tmpfs /dev/shm && exec "$@"' _ \
    "$mrdrun" -np 2 -x MRD_TIMEOUT_MS=10000 "$bench" -b 1M -e 1M -n 2 -w 1
else
  echo "shm_full: skipped (needs root and unshare -m)"
fi
expect ifname_matches_nothing "no usable network interface matches MRD_SOCKET_IFNAME='nosuchnic9'" 20 \
  "$mrdrun" -np 2 -x MRD_SOCKET_IFNAME=nosuchnic9 "$bench" -b 8 -e 8 -n 1
# Rank 0 hosts the root at MRD_COMM_ID, so a root nobody listens at is one
# a rank other than 0 is pointed to: ranks 1 alone, without a rank 0.
expect root_unreachable "connect to 127.0.0.1:9" 20 \
  env MRD_RANK=1 MRD_WORLD_SIZE=2 MRD_LOCAL_RANK=1 MRD_LOCAL_SIZE=2 MRD_COMM_ID=127.0.0.1:9 \
  MRD_SOCKET_IFNAME=lo MRD_TIMEOUT_MS=3000 "$bench" -b 8 -e 8 -n 1
exit $fail
