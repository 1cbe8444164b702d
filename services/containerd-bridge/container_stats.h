// One sample of a container's resource usage, read straight from its cgroup (v1 or v2) and from
// /proc, and shaped as Docker Engine API's `GET /containers/{id}/stats` document (API 1.43):
// the same field names, units and omissions dockerd produces from containerd's cgroup metrics
// (daemon/daemon_unix.go statsV1/statsV2, daemon/stats/collector.go for the host CPU figures).
// Network counters, `name` and `id` belong to the caller, and so do `preread` and `precpu_stats`
// (written here as Go's zero time and zero CPU figures, as in dockerd's first sample): the
// caller keeps the previous sample.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace berth::bridge {

// Which cgroup hierarchy the host mounts, and where.
struct CgroupLayout {
  bool v2 = false;                   // the unified hierarchy (cgroup2) is mounted at `root`
  std::string root = "/sys/fs/cgroup";
};

// v2 when `root` is a cgroup2 mount (statfs magic) or holds cgroup.controllers (a unified tree
// that is not itself a mount point, as in tests); v1 otherwise. A hybrid host, which mounts
// cgroup2 only at root/unified, is v1: containerd places containers in the v1 controllers.
CgroupLayout detectCgroupLayout(const std::string& root = "/sys/fs/cgroup");

// Reads one stats sample of the cgroup at `relPath` (the container's OCI cgroupsPath, e.g.
// "/berth/<id>"): under root/<controller>/relPath on v1 (memory, cpuacct, cpu, blkio, pids;
// "cpu,cpuacct" directories without the usual symlinks are found too), under root/relPath on v2.
// `procRoot` stands for /proc (stat for the host CPU time and online CPUs, meminfo for the
// memory limit of an unlimited container).
//
// Returns nullopt when the cgroup does not exist: the container is not running, or it stopped
// while we looked; the caller answers as dockerd does for a stopped container. A missing or
// malformed file leaves its fields zero or omitted, as dockerd reports them. `relPath` is
// berth's own cgroupsPath, but is still checked: one with a ".." component is `invalid`.
// Read errors other than a missing file (EACCES, ENODEV) are `internal` errors naming the file.
std::optional<nlohmann::json> readContainerStats(const CgroupLayout& layout, const std::string& relPath,
                                                 const std::string& procRoot = "/proc");

// The `networks` part of the document: the counters of each interface but loopback in the
// network namespace of process `pid`, from <procRoot>/<pid>/net/dev, as dockerd reports the
// interfaces of a container's sandbox ({"eth0": {rx_bytes, rx_packets, rx_errors, rx_dropped,
// tx_bytes, tx_packets, tx_errors, tx_dropped}}). nullopt when the file cannot be read (the
// process ended) or lists no interface but loopback (--network none), where dockerd's document
// has no `networks`.
std::optional<nlohmann::json> readNetworkStats(const std::string& procRoot, int pid);

// dockerd's answer for a container that is not running: every figure zero, `read` Go's zero time.
nlohmann::json stoppedContainerStats();

}  // namespace berth::bridge
