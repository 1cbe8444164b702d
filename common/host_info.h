// Facts about the host that /info and /version report: kernel, OS, CPUs, memory, cgroups.
#pragma once

#include <cstdint>
#include <string>

namespace berth {

struct HostInfo {
  std::string kernelVersion;    // uname -r
  std::string operatingSystem;  // PRETTY_NAME from /etc/os-release
  std::string osVersion;        // VERSION_ID
  std::string architecture;     // uname -m
  std::string hostname;
  int cpus = 0;
  int64_t memTotal = 0;         // bytes
  int cgroupVersion = 1;        // 2 when /sys/fs/cgroup is cgroup2fs
};

HostInfo readHostInfo();

}  // namespace berth
