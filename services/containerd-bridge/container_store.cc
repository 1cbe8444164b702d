#include "services/containerd-bridge/container_store.h"

#include <filesystem>

#include "common/files.h"

namespace berth::bridge {

ContainerStore::ContainerStore(std::string root) : root_(std::move(root)) { makeDirectories(root_, 0700); }

ContainerCounts ContainerStore::counts() const {
  ContainerCounts c;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(root_, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    if (it->is_directory()) ++c.total;
  }
  c.stopped = c.total;  // no container runs until the containers issue lands
  return c;
}

}  // namespace berth::bridge
