#!/usr/bin/env bash
# Builds berth with AddressSanitizer and UndefinedBehaviorSanitizer into build-asan/ (or
# BERTH_BUILD_DIR) and runs every suite under them, one test at a time; then lists the reports
# that any process wrote (the test binaries, the supervisor, every service, berth-logger under
# containerd's shims, berth-archive) and fails when there is one. Arguments go to ctest
# (`-L unit`, `-R ContainersTest`). Why the options are what they are: docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then
    exec sudo --preserve-env=BERTH_BUILD_DIR "$0" "$@"
  fi
  echo "test-sanitized: the integration tests start engines and need root; run it as root" >&2
  exit 1
fi
export BERTH_BUILD_DIR=${BERTH_BUILD_DIR:-build-asan}
if [[ -f $BERTH_BUILD_DIR/CMakeCache.txt ]] && ! grep -q '^BERTH_SANITIZE:BOOL=ON' "$BERTH_BUILD_DIR/CMakeCache.txt"; then
  echo "test-sanitized: $BERTH_BUILD_DIR was configured without BERTH_SANITIZE; use another BERTH_BUILD_DIR" >&2
  exit 1
fi
BERTH_SANITIZE=ON BERTH_WERROR=ON nice -n 19 scripts/build.sh

# Every process that inherits the environment gets these: the test engines' supervisors pass
# theirs to the services and containerd, containerd to its shims. AddressSanitizer and
# LeakSanitizer write each process's reports to a file of its own (asan.EXE.PID), because a
# service's stderr is its test engine's log, which a passing test removes. GCC's UBSan runtime
# writes to stderr whatever log_path says (it only passes the path on to ASan's, hence the same
# path in both): the test engines copy a log holding a report here (BERTH_SANITIZER_LOG_DIR,
# tests/support/engine.cc), and a test binary's own stderr is in ctest's LastTest.log, copied there after each run.
# berth-logger and berth-archive, started with no environment, and LeakSanitizer (on in the
# supervisor, berthctl and the test binaries; off in every process under a seccomp filter) take
# what common/sanitizer_defaults.cc compiles in; nothing here names detect_leaks.
logs=$(sed -n 's/^BERTH_SANITIZER_LOG_DIR:PATH=//p' "$BERTH_BUILD_DIR/CMakeCache.txt")
[[ -n $logs ]] || { echo "test-sanitized: no BERTH_SANITIZER_LOG_DIR in $BERTH_BUILD_DIR/CMakeCache.txt" >&2; exit 1; }
rm -rf "$logs"
mkdir -p "$logs"
export BERTH_SANITIZER_LOG_DIR=$logs
export ASAN_OPTIONS="log_path=$logs/asan:log_exe_name=1:check_initialization_order=1"
export UBSAN_OPTIONS="log_path=$logs/asan:log_exe_name=1:print_stacktrace=1"

# One test holds berth-api at its descriptor limit on purpose. UBSan's vptr check probes the
# vtable's memory through a pipe it opens, so with no descriptor free every check there fails
# and reports "invalid vptr" whatever the object (docs/hardening.md). That test runs on its own,
# after the rest, with vptr reports suppressed (in its engine only: the suppression is in its
# environment); every other check stays on for it, and vptr stays on for every other test.
# "vptr" suppresses by code location; "vptr_check" (by dynamic type) cannot, since the type is
# what the failed probe could not read.
descriptor_test='EngineTest.OutOfDescriptorsTheApiPausesInsteadOfSpinningAndServesAgainOnceFreed'
printf 'vptr:*\nvptr_check:*\n' > "$logs/vptr-suppression.supp"
status=0
(cd "$BERTH_BUILD_DIR" && ctest --output-on-failure --timeout 600 -j1 -E "^$descriptor_test\$" "$@") || status=$?
cp "$BERTH_BUILD_DIR/Testing/Temporary/LastTest.log" "$logs/ctest-LastTest.log" 2>/dev/null || true
# (The listing is taken whole first: grep -q ending the pipe early would fail it under pipefail.)
listing=$(cd "$BERTH_BUILD_DIR" && ctest -N "$@")
if grep -q " $descriptor_test\$" <<<"$listing"; then
  (cd "$BERTH_BUILD_DIR" &&
    UBSAN_OPTIONS="$UBSAN_OPTIONS:suppressions=$logs/vptr-suppression.supp" \
      ctest --output-on-failure --timeout 600 -j1 -R "^$descriptor_test\$") || status=$?
  cp "$BERTH_BUILD_DIR/Testing/Temporary/LastTest.log" "$logs/ctest-LastTest-descriptors.log" 2>/dev/null || true
fi

find "$logs" -type f -empty -delete  # berth-logger's stderr, when it wrote nothing
pattern='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|LeakSanitizer has encountered|Sanitizer.*CHECK failed|ERROR: Can.t open file'
mapfile -t reports < <(grep -l -E "$pattern" "$logs"/* 2>/dev/null || true)
if ((${#reports[@]} > 0)); then
  echo "test-sanitized: reports in ${#reports[@]} file(s):" >&2
  for r in "${reports[@]}"; do
    echo "== $r" >&2
    grep -E "$pattern|SUMMARY:" "$r" | sort | uniq -c | sort -rn | head -n 20 >&2 || true
  done
  status=1
else
  echo "test-sanitized: no sanitizer report from any process (ctest exit $status)"
fi
exit "$status"
