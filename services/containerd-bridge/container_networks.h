// A container's network on the bridge's side: before each start, the network service makes (or
// finds) the container's network namespace and the spec joins it; at removal the namespace goes.
// Today that is --network none; the host's network (host, and default/bridge until bridge
// networks land) needs none. A removal whose detach fails (the service
// restarting) does not fail: the bridge sends its list of containers (reconcile) until the
// service takes it, and does so at every restore too, so no namespace outlives its container.
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

  // The namespace path for the spec, or "" when the container uses the host's network or no
  // network service is wired in.
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
