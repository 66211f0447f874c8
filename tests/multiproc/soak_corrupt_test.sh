#!/usr/bin/env bash
# The soak's checker can fail: with --corrupt-once rank 0 flips one bit of
# one received element, and the run must report exactly 1 wrong element
# (naming the operation) and exit non-zero.
#   soak_corrupt_test.sh MRDRUN SOAK
set -uo pipefail
mrdrun=$1
soak=$2
out=$("$mrdrun" -np 4 --timeout 60 "$soak" --ops 100 --max-bytes 64K --seed 7 --corrupt-once 2>&1)
status=$?
echo "$out"
if ((status == 0)); then
  echo "FAIL: soak --corrupt-once exited 0"
  exit 1
fi
grep -q "^soak: wrong elements: 1$" <<<"$out" || { echo "FAIL: no 'wrong elements: 1' line"; exit 1; }
grep -q "WRONG op [0-9]* (.*: element 0: expected" <<<"$out" || { echo "FAIL: the wrong element was not printed"; exit 1; }
echo "PASS: soak --corrupt-once reported 1 wrong element and exited $status"
