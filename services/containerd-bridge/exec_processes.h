// docker exec: processes added to a running container's task. Exec records live in memory, as
// in dockerd: they describe processes of this bridge's lifetime.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_types.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/exec_reaper.h"

namespace berth::bridge {

class ExecProcesses {
 public:
  // Finished execs a container keeps for inspect (the newest); older ones are forgotten.
  static constexpr size_t kKeptFinishedExecs = 128;
  ExecProcesses(const ContainerStore& store, ContainerdTasks& tasks, ExecReaper& reaper, const EventSink& events,
                const ServicePaths& paths)
      : store_(store), tasks_(tasks), reaper_(reaper), events_(events), paths_(paths) {}

  std::string create(const std::string& ref, const nlohmann::json& body);
  nlohmann::json inspect(const std::string& execId) const;
  void resize(const std::string& execId, uint32_t height, uint32_t width, Deadline deadline);
  // Starts an exec; `io` null for a detached one. conflict when started already. A failure
  // after containerd was asked for the process takes io's fifos (ExecIo).
  ExecRecord start(const std::string& execId, ExecIo* io, Deadline deadline);
  // Waits for an exec's exit, records it (exec_die) and deletes it from containerd (the reaper
  // goes on trying when containerd does not answer).
  int finish(const std::string& execId);
  // Where an attached exec's fifos go.
  std::string fifoBase(const std::string& execId) const;
  // The exec ids of a container, for its inspect document (null when none).
  nlohmann::json idsOf(const std::string& containerId) const;
  // A removed container's execs are forgotten.
  void forgetContainer(const std::string& containerId);
  // Called (outside the execs' lock) after a container's exec ids changed. Set once, first.
  void onChange(std::function<void(const std::string& containerId)> observer) { onChange_ = std::move(observer); }

 private:
  ExecRecord find(const std::string& execId) const;

  const ContainerStore& store_;
  ContainerdTasks& tasks_;
  ExecReaper& reaper_;
  const EventSink& events_;
  const ServicePaths& paths_;
  mutable std::mutex mutex_;
  std::map<std::string, ExecRecord> execs_;
  uint64_t nextSequence_ = 0;
  std::function<void(const std::string&)> onChange_;
};

}  // namespace berth::bridge
