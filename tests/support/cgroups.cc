#include "tests/support/cgroups.h"

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

namespace berth::test {

void removeNamespaceCgroups(const std::string& ns) {
  std::vector<std::filesystem::path> left;
  std::error_code ec;
  for (const auto& hierarchy : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
    left.push_back(hierarchy.path() / ns);  // cgroup v1: one directory per controller
  }
  left.push_back(std::filesystem::path("/sys/fs/cgroup") / ns);  // cgroup v2
  // A container removed just before may still have its own cgroup under the namespace's: the
  // bridge deletes the task after the exit, on its own thread. rmdir fails while a child is there.
  const auto deadline = std::chrono::steady_clock::now() + kCgroupSettleLimit;
  while (true) {
    std::vector<std::filesystem::path> busy;
    for (const auto& dir : left) {
      std::filesystem::remove(dir, ec);
      if (ec && std::filesystem::exists(dir)) busy.push_back(dir);
    }
    left = std::move(busy);
    if (left.empty() || std::chrono::steady_clock::now() >= deadline) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace berth::test
