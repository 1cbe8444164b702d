#!/usr/bin/env bash
# Installs every Debian package berth needs to build, test and run. Idempotent: packages that
# are already installed are skipped, so a second run costs one dpkg query.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config ninja-build
  # IPC
  capnproto libcapnp-dev libzmq3-dev cppzmq-dev
  # containerd's gRPC API (later issues generate stubs from the packaged .proto files)
  libgrpc++-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev
  golang-github-containerd-containerd-dev
  # libraries
  nlohmann-json3-dev libspdlog-dev libfmt-dev libseccomp-dev libssl-dev nettle-dev
  libboost-dev libarchive-dev zlib1g-dev libcurl4-openssl-dev
  # networking: netlink in process (links, addresses, routes) and nftables (NAT, filtering,
  # published ports), and the resolver of user networks (docs/network.md says why each)
  libnl-route-3-dev libnftables-dev aardvark-dns
  # tests
  libgtest-dev libgmock-dev googletest
  # fuzzing (scripts/fuzz.sh): clang, its libFuzzer and sanitizer runtimes (not pulled in by
  # clang without recommends), and llvm-symbolizer for readable reports
  clang libclang-rt-14-dev llvm
  # runtime
  containerd runc iproute2 iptables
  # --init: tini-static is the init a container gets as PID 1 (dockerd ships it as docker-init)
  tini
  # unit verification and socket-activation tools (systemd-analyze, systemd-socket-activate)
  systemd
  # test tooling: curl to speak HTTP over unix sockets, openssl to make test certificates, gdb
  # to make a forbidden system call inside a live service (the seccomp tests)
  curl openssl python3 procps gdb
  # the network tests read the engine's nft table (nft), and move between namespaces (nsenter)
  nftables util-linux
  # test images are built locally from busybox-static; skopeo is an independent archive writer
  busybox-static skopeo
  # a real registry for pull/push tests, and htpasswd for its basic auth
  docker-registry apache2-utils
  # clients other than the docker CLI: Docker's SDK for Python and Compose 1.29 (which uses it)
  python3-docker docker-compose
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Debian docker CLI 20.10 (API 1.41), which the tests run beside the current CLI because
# older tools still use it. Only its client is taken from docker.io's package: the package is
# downloaded and the one binary extracted; its daemon is never installed or run.
cli2010=/usr/local/lib/berth-tests/docker-20.10
if [[ ! -x $cli2010 ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: need root to install $cli2010" >&2
    exit 1
  fi
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download -qq docker.io >/dev/null 2>&1); then
    apt-get update -qq
    (cd "$tmp" && apt-get download -qq docker.io >/dev/null)
  fi
  dpkg-deb --fsys-tarfile "$tmp"/docker.io_*.deb | tar -x -C "$tmp" ./usr/bin/docker
  install -D -m 0755 "$tmp/usr/bin/docker" "$cli2010"
  rm -rf "$tmp"
fi
