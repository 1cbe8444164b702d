#!/usr/bin/env bash
# Installs what is missing, builds, and runs berth in the foreground: supervisor, managed
# containerd and the five services, on a data root and socket local to this checkout.
# Extra arguments go to berth-supervisor (dockerd-style flags, e.g. --log-level debug).
# Stop with Ctrl-C (SIGINT): services stop in reverse order; containers keep running.
set -euo pipefail
cd "$(dirname "$0")/.."
# As root it runs as it is (sudo need not be installed); as a user it runs itself again
# through sudo.
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then exec sudo --preserve-env=BERTH_ROOT,BERTH_BUILD_DIR "$0" "$@"; fi
  echo "run-engine: berth needs root (namespaces, mounts, containerd); run it as root" >&2
  exit 1
fi
scripts/install-deps.sh
scripts/build.sh >&2

root=${BERTH_ROOT:-$PWD/.berth}
# Unix socket paths are limited to 107 bytes; keep the exec root short.
run=$root/run
if (( ${#run} > 60 )); then run=/run/berth-$(echo -n "$root" | sha256sum | cut -c1-12); fi
mkdir -p "$root"

echo "berth: data root $root/data, exec root $run" >&2
echo "export DOCKER_HOST=unix://$run/docker.sock"
exec build/bin/berth-supervisor --data-root "$root/data" --exec-root "$run" -H "unix://$run/docker.sock" "$@"
