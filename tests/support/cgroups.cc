#include "tests/support/cgroups.h"

#include <filesystem>

namespace berth::test {

void removeNamespaceCgroups(const std::string& ns) {
  std::error_code ec;
  for (const auto& hierarchy : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
    std::filesystem::remove(hierarchy.path() / ns, ec);  // cgroup v1: one directory per controller
  }
  std::filesystem::remove(std::filesystem::path("/sys/fs/cgroup") / ns, ec);  // cgroup v2
}

}  // namespace berth::test
