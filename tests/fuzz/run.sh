#!/usr/bin/env bash
# Runs each fuzz target for SECONDS from its seed corpus (a copy: what the
# fuzzer adds stays in BUILD/fuzz-corpus) and prints its executions per
# second and coverage. A crash, leak or sanitizer report fails, and the
# input that caused it is kept in BUILD/fuzz-artifacts.
#   run.sh BUILD SECONDS
set -uo pipefail
build=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
fail=0
mkdir -p "$build/fuzz-artifacts"
for target in bootstrap_fuzz frame_fuzz; do
  corpus="$build/fuzz-corpus/$target"
  mkdir -p "$corpus"
  cp -n "$here/corpus/$target/"* "$corpus/" 2>/dev/null
  log="$build/fuzz-$target.log"
  # -max_len: a frame_fuzz input carries whole 64 KiB chunks.
  "$build/tests/fuzz/$target" -max_total_time="$seconds" -max_len=200000 -timeout=10 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$target-" "$corpus" >"$log" 2>&1
  rc=$?
  done_line=$(grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | tail -1 | tr -s '[:space:]' ' ')
  runs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$")
  speed=$(grep -oE "stat::average_exec_per_sec: *[0-9]+" "$log" | grep -oE "[0-9]+$")
  echo "$target: exit $rc, ${runs:-?} runs in ${seconds} s (${speed:-?}/s); ${done_line:-no DONE line}"
  if ((rc != 0)); then
    fail=1
    echo "---- $target (last 40 lines of $log) ----"
    tail -n 40 "$log"
  fi
done
exit $fail
