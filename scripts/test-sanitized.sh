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
# and reports "object has invalid vptr" whatever the object (docs/hardening.md). A suppressions
# file cannot silence them: GCC's UBSan runtime reads it at its first report, which in that test
# comes when no descriptor is free to open it with. So that test runs on its own, after the rest,
# with logs of its own, and there (only there) a vptr report whose object had an unreadable vptr
# is not counted; every other report in those logs is, and vptr reports count everywhere else.
descriptor_test='EngineTest.OutOfDescriptorsTheApiPausesInsteadOfSpinningAndServesAgainOnceFreed'
status=0
(cd "$BERTH_BUILD_DIR" && ctest --output-on-failure --timeout 600 -j1 -E "^$descriptor_test\$" "$@") || status=$?
cp "$BERTH_BUILD_DIR/Testing/Temporary/LastTest.log" "$logs/ctest-LastTest.log" 2>/dev/null || true
# (The listing is taken whole first: grep -q ending the pipe early would fail it under pipefail.)
listing=$(cd "$BERTH_BUILD_DIR" && ctest -N "$@")
descriptor_logs=$logs/descriptor-test
if grep -q " $descriptor_test\$" <<<"$listing"; then
  mkdir -p "$descriptor_logs"
  (cd "$BERTH_BUILD_DIR" &&
    BERTH_SANITIZER_LOG_DIR=$descriptor_logs \
    ASAN_OPTIONS=${ASAN_OPTIONS//$logs\/asan/$descriptor_logs\/asan} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS//$logs\/asan/$descriptor_logs\/asan} \
      ctest --output-on-failure --timeout 600 -j1 -R "^$descriptor_test\$") || status=$?
  cp "$BERTH_BUILD_DIR/Testing/Temporary/LastTest.log" "$descriptor_logs/ctest-LastTest.log" 2>/dev/null || true
fi

find "$logs" -type f -empty -delete  # berth-logger's stderr, when it wrote nothing
pattern='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|LeakSanitizer has encountered|Sanitizer.*CHECK failed|ERROR: Can.t open file'
mapfile -t reports < <(grep -l -E "$pattern" "$logs"/* 2>/dev/null || true)
# The descriptor test's logs: each report line, less the vptr reports whose next line says the
# vptr could not be read (the failed probe); what is left counts as anywhere else.
counted() {
  awk -v pattern="$pattern" '
    pending { if ($0 !~ /note: object has invalid vptr/) print held; pending = 0 }
    /runtime error: .* which does not point to an object of type/ { held = $0; pending = 1; next }
    $0 ~ pattern { print }
    END { if (pending) print held }' "$1"
}
discounted=0
if [[ -d $descriptor_logs ]]; then
  for f in "$descriptor_logs"/*; do
    [[ -f $f ]] || continue
    if [[ -n $(counted "$f") ]]; then reports+=("$f"); fi
    discounted=$((discounted + $(grep -c "note: object has invalid vptr" "$f" || true)))
  done
fi
if ((discounted > 0)); then
  echo "test-sanitized: $discounted vptr report(s) with an unreadable vptr in the descriptor test's logs, not counted"
fi
if ((${#reports[@]} > 0)); then
  echo "test-sanitized: reports in ${#reports[@]} file(s):" >&2
  for r in "${reports[@]}"; do
    echo "== $r" >&2
    if [[ $r == "$descriptor_logs"/* ]]; then
      counted "$r" | sort | uniq -c | sort -rn | head -n 20 >&2 || true
    else
      grep -E "$pattern|SUMMARY:" "$r" | sort | uniq -c | sort -rn | head -n 20 >&2 || true
    fi
  done
  status=1
else
  echo "test-sanitized: no sanitizer report from any process (ctest exit $status)"
fi
exit "$status"
