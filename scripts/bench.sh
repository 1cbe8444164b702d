#!/usr/bin/env bash
# Builds and runs the benchmarks, printing figures. When the reference engine runs
# (../shared/tools/reference-engine start), its figures are printed beside berth's, measured by
# the same code in the same run.
#   scripts/bench.sh [--reference unix:///run/refengine/docker.sock]
# The container benchmark kills and restarts the reference dockerd (for its recovery and fresh
# memory figures) with BERTH_REFERENCE_RESTART, by default the reference engine tool's start.
# Every benchmark checks every sample; one that failed prints the failures instead of figures
# and this script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh >/dev/null
reference=()
if [[ ${1:-} == --reference ]]; then
  reference=(--reference "$2")
elif [[ -S /run/refengine/docker.sock ]]; then
  reference=(--reference unix:///run/refengine/docker.sock)
fi
restart=()
if ((${#reference[@]})); then
  tool=$(cd .. && pwd)/shared/tools/reference-engine
  restart=(--reference-restart "${BERTH_REFERENCE_RESTART:-$tool start}")
fi
echo "== IPC: one berth RPC beside raw ZeroMQ, server in another process"
build/bin/ipc_bench
echo
echo "== API: /_ping and an empty container list through berth-api${reference:+ and the reference engine}, in turns with the floor of a round trip"
build/bin/api_bench "${reference[@]}"
echo
echo "== Images: docker load/save of a 200 MB 8-layer image, first bytes of a save and an export, GET /images/json and one image's inspect with 200 images"
build/bin/image_bench "${reference[@]}"
echo
echo "== Volumes: create, ls and inspect with 1,000 volumes; docker run --rm with and without a volume"
build/bin/volume_bench "${reference[@]}"
echo
echo "== Networks: docker run --rm on the default bridge and with none, 100 containers on a user network (runs, lookups, GET)"
build/bin/network_bench "${reference[@]}"
echo
echo "== Containers: docker run --rm, 20 in parallel, ps/inspect with 100 running, recovery, memory"
build/bin/container_bench "${reference[@]}" "${restart[@]}"
