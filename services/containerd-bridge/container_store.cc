#include "services/containerd-bridge/container_store.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
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

bool containerdReachable(const std::string& socketPath) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socketPath.size() >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, socketPath.c_str(), socketPath.size() + 1);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

}  // namespace berth::bridge
