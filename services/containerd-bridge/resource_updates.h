// A container's resources while it lives: docker update (new limits for the running task and for
// later starts, a new restart policy) and containerd's OOM events (State.OOMKilled and the oom
// event, as dockerd records them).
#pragma once

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_types.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/host_ops.h"
#include "services/containerd-bridge/operation_locks.h"

namespace berth::bridge {

class ResourceUpdates {
 public:
  ResourceUpdates(ContainerStore& store, ContainerdTasks& tasks, OperationLocks& locks, Scheduler& scheduler,
                  const EventSink& events, const ServicePaths& paths)
      : store_(store), tasks_(tasks), locks_(locks), scheduler_(scheduler), events_(events), paths_(paths) {}

  // Docker's UpdateConfig; the warnings dockerd would give. Validated whole: a bad value
  // changes nothing.
  std::vector<std::string> update(const std::string& ref, const nlohmann::json& body, Deadline deadline);
  // Follows containerd's /tasks/oom events in the background, subscribing again whenever the
  // stream ends (containerd restarted), until stop().
  void watchOom();
  void stop() { stopping_ = true; }

 private:
  ContainerStore& store_;
  ContainerdTasks& tasks_;
  OperationLocks& locks_;
  Scheduler& scheduler_;
  const EventSink& events_;
  const ServicePaths& paths_;
  std::atomic<bool> stopping_{false};
};

}  // namespace berth::bridge
