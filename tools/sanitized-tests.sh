#!/usr/bin/env bash
# Runs the tests of a sanitizer build (make test-asan, make test-tsan):
#   tools/sanitized-tests.sh BUILD_DIR
# The unit tests (2 at a time), then the multi-process ones (one at a
# time), as make test does, but for (SAN_EXCLUDE overrides):
#   - the algo.* copies of the collectives matrix: the default run covers
#     the same library code, each algorithm chosen by the tuner somewhere;
#   - the tests that assert how fast traffic moves or how soon a fault is
#     routed around (netns fault, 3-host relay and calibration tests, the
#     benchmark smoke runs, the host-gone detection bound): a sanitizer's 2-15x slowdown breaks their
#     clocks, not their code;
#   - consumer_install, which builds an outside program against the
#     installed library without the sanitizer runtime.
# SAN_EXTRA_EXCLUDE adds to the list (make test-asan and test-tsan thin the
# collectives matrix with it); SAN_MULTIPROC=0 leaves the multi-process
# tests out (make test-tsan: a race is within a process, and the unit
# tests run their ranks as threads of one). A test that fails is run once more (timing on a loaded
# 2-core machine), but any sanitizer report in any run's output fails the
# whole run.
set -uo pipefail
build=${1:?usage: sanitized-tests.sh BUILD_DIR}
exclude=${SAN_EXCLUDE:-'^algo\.|^netns_2rails_fault|^netns_3hosts|^netns_2hosts_gone$|calibration|^bench_|Relay|^consumer_install$'}
[[ -n ${SAN_EXTRA_EXCLUDE:-} ]] && exclude="$exclude|$SAN_EXTRA_EXCLUDE"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
cd "$build" || exit 2
log=sanitized-tests.log
start=$(date +%s)
ctest --output-on-failure --timeout 900 -j 2 -LE multiproc -E "$exclude" --repeat until-pass:2 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
rc2=0
if [[ ${SAN_MULTIPROC:-1} != 0 ]]; then
  ctest --output-on-failure --timeout 900 -j 1 -L multiproc -E "$exclude" --repeat until-pass:2 2>&1 | tee -a "$log"
  rc2=${PIPESTATUS[0]}
fi
pattern='ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|runtime error:'
reports=$(grep -c -E "$pattern" "$log")
echo "sanitized-tests: $build: ctest exit $rc (unit), $rc2 (multiproc), $reports sanitizer report(s), $(($(date +%s) - start)) s"
if ((reports > 0)); then
  grep -E "$pattern" "$log" | sort | uniq -c | sort -rn | head -20
  exit 1
fi
((rc == 0 && rc2 == 0))
