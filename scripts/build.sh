#!/usr/bin/env bash
# Configures (once) and builds berth into build/; executables land in build/bin/.
# BERTH_BUILD_TYPE (default RelWithDebInfo), BERTH_WERROR (default OFF) and BERTH_SANITIZE
# (default OFF; ASan and UBSan, see docs/testing.md) select the flavour when a build directory
# (BERTH_BUILD_DIR) is first configured.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BERTH_BUILD_DIR:-build}
if [[ ! -f $build/build.ninja ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BERTH_BUILD_TYPE:-RelWithDebInfo}" \
    -DBERTH_WERROR="${BERTH_WERROR:-OFF}" -DBERTH_SANITIZE="${BERTH_SANITIZE:-OFF}" >/dev/null
fi
cmake --build "$build"
