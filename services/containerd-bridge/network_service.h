// What the containers core needs of the network service: each container's network namespace
// and its networks (addresses, veths, names, published ports), made before its first task
// starts and removed with the container. The network service's
// public client implements it in berth-containerd-bridge; unit tests implement it in memory.
// The calls are those of ipc/schema/network.capnp.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/deadline.h"

namespace berth::bridge {

class NetworkService {
 public:
  virtual ~NetworkService() = default;
  struct Attached {
    std::string netnsPath;
    nlohmann::json settings;  // {Networks, Ports, Nameservers}
  };
  // The container's network namespace (made on the first call) and its networks. `request`:
  // {Name, Hostname, NetworkMode, EndpointsConfig, PortBindings, PublishAllPorts, ExposedPorts}.
  virtual Attached attach(const std::string& container, const nlohmann::json& request, Deadline deadline) = 0;
  // docker network connect/disconnect of a container attached before: its settings after.
  virtual nlohmann::json connect(const std::string& container, const std::string& network,
                                 const nlohmann::json& endpointConfig, Deadline deadline) = 0;
  virtual nlohmann::json disconnect(const std::string& container, const std::string& network, Deadline deadline) = 0;
  // notFound "network X not found" unless the network exists (create checks its networks).
  virtual void checkNetwork(const std::string& ref, Deadline deadline) = 0;
  virtual void detach(const std::string& container, Deadline deadline) = 0;
  // Every container the bridge has; the namespaces of others are removed.
  virtual void reconcile(const std::vector<std::string>& containers, Deadline deadline) = 0;
};

}  // namespace berth::bridge
