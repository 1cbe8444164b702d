// The container store's on-disk root (<data-root>/containers). Today it lays out the root and
// counts; the containers issue adds the lifecycle through containerd's gRPC API.
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

}  // namespace berth::bridge
