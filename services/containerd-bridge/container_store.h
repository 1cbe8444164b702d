// The container store's on-disk root (<data-root>/containers) and the bridge's view of
// containerd. This issue lays out the root, counts, and checks that containerd answers; the
// containers issue adds the lifecycle through containerd's gRPC API.
#pragma once

#include <string>

namespace berth::bridge {

struct ContainerCounts {
  unsigned total = 0;
  unsigned running = 0;
  unsigned paused = 0;
  unsigned stopped = 0;
};

class ContainerStore {
 public:
  explicit ContainerStore(std::string root);
  ContainerCounts counts() const;

 private:
  std::string root_;
};

// True when containerd's unix socket accepts a connection.
bool containerdReachable(const std::string& socketPath);

}  // namespace berth::bridge
