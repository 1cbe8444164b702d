// How containers look to Docker clients: GET /containers/{id}/json, the entries and filters of
// GET /containers/json, docker stats, docker top and what an attach needs, rendered from store
// snapshots (never waiting on a busy container).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "services/containerd-bridge/container_stats.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_types.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/exec_processes.h"
#include "services/containerd-bridge/image_layers.h"

namespace berth::bridge {

// A container's Config as inspect shows it (the flags and Labels dockerd always fills in); also
// what docker commit starts the new image's config from.
nlohmann::json inspectedConfig(const ContainerRecord& record);

class ContainerViews {
 public:
  ContainerViews(const ContainerStore& store, ContainerdTasks& tasks, ImageLayers& images, const ExecProcesses& execs,
                 const ServicePaths& paths)
      : store_(store), tasks_(tasks), images_(images), execs_(execs), paths_(paths) {}

  nlohmann::json inspect(const std::string& ref) const;
  nlohmann::json list(const ListOptions& options, Deadline deadline) const;
  // One stats sample (see ContainerdBridge.stats); zeros when the container is not running.
  nlohmann::json stats(const std::string& ref) const;
  nlohmann::json top(const std::string& ref, const std::string& psArgs, Deadline deadline) const;
  AttachTarget attachTarget(const std::string& ref) const;

 private:
  const ContainerStore& store_;
  ContainerdTasks& tasks_;
  ImageLayers& images_;
  const ExecProcesses& execs_;
  const ServicePaths& paths_;
  CgroupLayout cgroups_ = detectCgroupLayout();
};

}  // namespace berth::bridge
