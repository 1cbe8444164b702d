// Health checks, as dockerd's health monitor runs them: the container's (or its image's)
// Healthcheck probe is exec'd in the running container every Interval, killed after Timeout;
// exit 0 is healthy, any other result a failure, Retries failures in a row (outside the
// StartPeriod) unhealthy. State.Health keeps the status, the failing streak and the last five
// results; each change of status is a "health_status: S" event. A monitor belongs to one run
// of the container and ends with it.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_types.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/exec_reaper.h"
#include "services/containerd-bridge/exit_watch.h"
#include "services/containerd-bridge/host_ops.h"

namespace berth::bridge {

class HealthMonitor {
 public:
  HealthMonitor(ContainerStore& store, ContainerdTasks& tasks, ExecReaper& reaper, const ExitWatch& exits,
                Scheduler& scheduler, const EventSink& events, const ServicePaths& paths)
      : store_(store), tasks_(tasks), reaper_(reaper), exits_(exits), scheduler_(scheduler), events_(events), paths_(paths) {}

  // Probes the run of a container that started with exit count `exits`, in the background,
  // when its config has a health check.
  void watch(const ContainerRecord& record);

 private:
  void monitor(const std::string& id, int64_t startedExits);
  nlohmann::json runProbe(const ContainerRecord& record, const std::vector<std::string>& command,
                          std::chrono::nanoseconds timeout);

  ContainerStore& store_;
  ContainerdTasks& tasks_;
  ExecReaper& reaper_;
  const ExitWatch& exits_;
  Scheduler& scheduler_;
  const EventSink& events_;
  const ServicePaths& paths_;
};

}  // namespace berth::bridge
