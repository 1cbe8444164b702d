// dockerd's restore(), when the bridge starts: every record is reconciled with what containerd
// holds. A running container whose task lives is watched again; one whose task stopped while no
// bridge ran gets its exit recorded (and its restart policy applied); one whose state containerd
// cannot tell stays running and is watched until it can. An interrupted removal leaves the
// container dead; a task under a record that says stopped, or with no record at all, is killed
// and deleted. On the engine's own start, containers whose policy says so boot, and exited --rm
// containers are removed. Shutdown without live-restore stops every running container.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "services/containerd-bridge/container_lifecycle.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_types.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/exec_reaper.h"
#include "services/containerd-bridge/exit_handler.h"
#include "services/containerd-bridge/host_ops.h"
#include "services/containerd-bridge/runtime_teardown.h"

namespace berth::bridge {

class ContainerRestorer {
 public:
  ContainerRestorer(ContainerStore& store, ContainerdTasks& tasks, RuntimeTeardown& teardown, ExitHandler& exitHandler,
                    ContainerLifecycle& lifecycle, ContainerRuns& runs, VolumeAttachments& volumes, ExecReaper& reaper,
                    HostOps& host, Scheduler& scheduler, const ServicePaths& paths)
      : store_(store), tasks_(tasks), teardown_(teardown), exitHandler_(exitHandler), lifecycle_(lifecycle), runs_(runs),
        volumes_(volumes), reaper_(reaper), host_(host), scheduler_(scheduler), paths_(paths) {}

  void restore();
  void shutdown(std::chrono::seconds timeout);

 private:
  // containerd's tasks in berth's namespace, retried while containerd starts; nullopt when it
  // does not answer.
  std::optional<std::vector<TaskListing>> listTasks();
  // Reconciles a record that says running or paused; the ids to watch again go to `watch`,
  // those whose state containerd could not give to `uncertain` as well.
  void restoreRunning(const ContainerRecord& record, const std::optional<std::vector<TaskListing>>& listed,
                      std::vector<std::string>& watch, std::set<std::string>& uncertain);
  void finishRemoval(const ContainerRecord& record);
  // Kills and deletes a task (and its container object) that no running record stands for.
  void removeStrayTask(const std::string& id);
  // The exec root's directories that neither a record nor a task stands for: what a removal
  // could not finish (a logger still writing into it) or a create the last bridge did not.
  void removeStrayRunDirectories(const std::set<std::string>& known, const std::optional<std::vector<TaskListing>>& listed);
  // containerd's container objects that neither a record nor a listed task stands for.
  void removeStrayContainerObjects(const std::optional<std::vector<TaskListing>>& listed);

  ContainerStore& store_;
  ContainerdTasks& tasks_;
  RuntimeTeardown& teardown_;
  ExitHandler& exitHandler_;
  ContainerLifecycle& lifecycle_;
  ContainerRuns& runs_;
  VolumeAttachments& volumes_;
  ExecReaper& reaper_;
  HostOps& host_;
  Scheduler& scheduler_;
  const ServicePaths& paths_;
};

}  // namespace berth::bridge
