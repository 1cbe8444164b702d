#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, BERTH_FUZZ=ON, in build-fuzz) and runs
# each for a bounded time on a copy of its seed corpus, so the repository's corpus never grows.
# Prints, per target, the runs, the execs/s and the crashes; exits non-zero when any target
# crashed, leaked, ran out of memory or timed out, and keeps its work directory with the input
# that did it (the path is printed). docs/fuzzing.md says what each target covers.
#
#   scripts/fuzz.sh [seconds-per-target [target...]]    default: 20 s, every target
#
# Environment: BERTH_FUZZ_BUILD_DIR (build-fuzz), BERTH_FUZZ_JOBS (build jobs, nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-20}
shift || true
build=${BERTH_FUZZ_BUILD_DIR:-build-fuzz}
[[ $build = /* ]] || build=$root/$build

if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=()
  for dir in tests/fuzz/corpus/*/; do targets+=("$(basename "$dir")"); done
fi

# clang, its libFuzzer and sanitizer runtimes (libclang-rt-14-dev), and llvm-symbolizer for
# readable reports: scripts/install-deps.sh installs them.
runtime=""
if command -v clang++ >/dev/null; then
  runtime=$(clang++ -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a
fi
if [[ -z $runtime || ! -f $runtime ]] || ! command -v llvm-symbolizer >/dev/null; then
  echo "fuzz: clang++, libFuzzer (libclang-rt-14-dev) and llvm-symbolizer are needed: run scripts/install-deps.sh" >&2
  exit 1
fi

if [[ ! -f $build/build.ninja ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DBERTH_FUZZ=ON >/dev/null
fi
cmake --build "$build" -j "${BERTH_FUZZ_JOBS:-$(nproc)}"

# Work in memory where there is a tmpfs: the extraction targets fsync every layer they write.
base=/tmp
[[ -d /dev/shm && -w /dev/shm ]] && base=/dev/shm
work=$(mktemp -d -p "$base" berth-fuzz.XXXXXX)
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
printf '%-18s %8s %10s %10s %8s\n' target seconds runs execs/s crashes
for t in "${targets[@]}"; do
  binary=$build/bin/fuzz_$t
  if [[ ! -x $binary || ! -d tests/fuzz/corpus/$t ]]; then
    echo "fuzz: no target $t (binary $binary, corpus tests/fuzz/corpus/$t)" >&2
    failed+=("$t")
    continue
  fi
  dir=$work/$t
  mkdir -p "$dir/corpus"
  cp -r "tests/fuzz/corpus/$t/." "$dir/corpus/"
  options=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix=./)
  [[ -f tests/fuzz/$t.dict ]] && options+=(-dict="$root/tests/fuzz/$t.dict")
  # The targets' scratch directories go beside the corpus: both stay writable for the targets
  # that make every other mount read-only.
  status=0
  started=$SECONDS
  (cd "$dir" && TMPDIR=$dir "$binary" "${options[@]}" corpus >log 2>&1) || status=$?
  took=$((SECONDS - started))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  artifacts=$(cd "$dir" && ls -1 crash-* leak-* timeout-* oom-* 2>/dev/null || true)
  crashes=$(grep -c . <<<"$artifacts" || true)
  printf '%-18s %8s %10s %10s %8s\n' "$t" "$took" "${runs:-?}" "${rate:-?}" "$crashes"
  if [[ $status -ne 0 || $crashes -ne 0 ]]; then
    failed+=("$t")
    grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz invariant broken|terminate called)' "$dir/log" | head -5 | sed 's/^/    /' || true
    for a in $artifacts; do echo "    input: $dir/$a"; done
    echo "    log: $dir/log (exit status $status)"
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (work directory kept: $work)" >&2
  exit 1
fi
rm -rf "$work"
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, no crash, leak or timeout"
