// A container's network on the bridge's side: before each start, the network service makes (or
// finds) the container's network namespace and connects it to its networks, the settings it
// returns are recorded (inspect's NetworkSettings, the hosts and resolv.conf files) and the spec
// joins the namespace; at removal the namespace and its endpoints go. The host's network needs
// none; container:<name|id> joins the namespace of that running container. A removal whose
// detach fails (the service restarting) does not fail: the bridge sends its list of containers
// (reconcile) until the service takes it, and does so at every restore too, so no namespace
// outlives its container.
#pragma once

#include <atomic>
#include <shared_mutex>
#include <string>

#include "common/deadline.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/host_ops.h"
#include "services/containerd-bridge/network_service.h"

namespace berth::bridge {

class ContainerNetworks {
 public:
  // `network` may be null (unit tests of the rest of the core): runc then makes the namespace.
  ContainerNetworks(ContainerStore& store, NetworkService* network, Scheduler& scheduler)
      : store_(store), network_(network), scheduler_(scheduler) {}

  // At create: the network mode and the networks named exist (dockerd's refusals: "network X
  // not found", "No such container: X").
  void check(const nlohmann::json& hostConfig, const nlohmann::json& endpointsConfig, Deadline deadline);
  // docker network connect/disconnect before the first start: the planned networks change.
  void plan(const std::string& ref, const std::string& network, const nlohmann::json& endpointConfig, bool connect,
            Deadline deadline);
  // The namespace path for the spec, or "" when the container uses the host's network or no
  // network service is wired in. The network settings are recorded in the container's record.
  std::string attach(const ContainerRecord& record, Deadline deadline);
  // At the container's removal. Never throws: a failure is made good by a reconcile.
  void detach(const std::string& id, Deadline deadline) noexcept;
  // At the bridge's restore.
  void restored() { reconcileSoon(); }

 private:
  void reconcileSoon();
  void reconcileAttempt();

  ContainerStore& store_;
  NetworkService* network_;
  Scheduler& scheduler_;
  std::atomic<bool> reconcileScheduled_{false};
  // attach and detach share it; a reconcile takes it alone, so the list it sends is never older
  // than a namespace made while it runs (which it would remove).
  std::shared_mutex calls_;
};

}  // namespace berth::bridge
