// What the containers core needs of the network service: each container's network namespace,
// made before its first task starts and removed with the container. The network service's
// public client implements it in berth-containerd-bridge; unit tests implement it in memory.
// The calls are those of ipc/schema/network.capnp.
#pragma once

#include <string>
#include <vector>

#include "common/deadline.h"

namespace berth::bridge {

class NetworkService {
 public:
  virtual ~NetworkService() = default;
  // The path of the container's network namespace (made on the first call).
  virtual std::string attach(const std::string& container, Deadline deadline) = 0;
  virtual void detach(const std::string& container, Deadline deadline) = 0;
  // Every container the bridge has; the namespaces of others are removed.
  virtual void reconcile(const std::vector<std::string>& containers, Deadline deadline) = 0;
};

}  // namespace berth::bridge
