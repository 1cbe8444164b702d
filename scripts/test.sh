#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, and runs every test: unit tests
# and integration tests that start real engines (real containerd, the real docker CLI).
set -euo pipefail
cd "$(dirname "$0")/.."
# As root it runs as it is (sudo need not be installed); as a user it runs itself again
# through sudo.
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then exec sudo --preserve-env=BERTH_ROOT,BERTH_BUILD_DIR,BERTH_FUZZ_SECONDS "$0" "$@"; fi
  echo "test: the integration tests start engines and need root; run it as root" >&2
  exit 1
fi
scripts/install-deps.sh
if ! command -v docker >/dev/null; then
  echo "test: the docker CLI (the client only) is needed as the integration tests' client" >&2
  exit 1
fi
BERTH_WERROR=ON scripts/build.sh
(cd "${BERTH_BUILD_DIR:-build}" && ctest --output-on-failure --timeout 300 -j2)
# A short run of every libFuzzer target on its seed corpus (clang, ASan and UBSan, built in
# build-fuzz; docs/fuzzing.md). BERTH_FUZZ_SECONDS=0 skips it.
if [[ ${BERTH_FUZZ_SECONDS:-10} != 0 ]]; then
  scripts/fuzz.sh "${BERTH_FUZZ_SECONDS:-10}"
fi
