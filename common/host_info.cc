#include "common/host_info.h"

#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/files.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace berth {

HostInfo readHostInfo() {
  HostInfo h;
  struct utsname u {};
  if (uname(&u) == 0) {
    h.kernelVersion = u.release;
    h.architecture = u.machine;
    h.hostname = u.nodename;
  }
  h.cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  h.memTotal = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  if (auto osr = readFileIfExists("/etc/os-release")) {
    std::istringstream in(*osr);
    std::string line;
    auto value = [](std::string v) {
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return v;
    };
    while (std::getline(in, line)) {
      if (line.rfind("PRETTY_NAME=", 0) == 0) h.operatingSystem = value(line.substr(12));
      if (line.rfind("VERSION_ID=", 0) == 0) h.osVersion = value(line.substr(11));
    }
  }
  struct statfs fs {};
  if (statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) h.cgroupVersion = 2;
  return h;
}

}  // namespace berth
