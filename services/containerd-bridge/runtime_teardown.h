// The only code that deletes a container's objects in containerd (its task, its container
// object) and unmounts its root filesystem. Its rule: containerd's container object is deleted
// only once containerd has said the task is gone or has handed back its exit, never while a task
// may still run, and never on an unknown state (containerd's Containers.Delete does not check;
// a container deleted under a live task leaves a process nothing can reach). The volumes mounted
// for the run are unmounted with the root filesystem.
#pragma once

#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "services/containerd-bridge/container_types.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/host_ops.h"
#include "services/containerd-bridge/volume_attachments.h"

namespace berth::bridge {

class RuntimeTeardown {
 public:
  RuntimeTeardown(ContainerdTasks& tasks, ContainerdContainers& containers, HostOps& host, VolumeAttachments& volumes,
                  const ServicePaths& paths)
      : tasks_(tasks), containers_(containers), host_(host), volumes_(volumes), paths_(paths) {}

  // After containerd reported the task stopped: deletes it (the shim first waits for the log
  // writer, so the log is whole) and returns its exit, then deletes the container object and
  // unmounts the root filesystem. Throws when the task cannot be deleted (conflict: it still
  // runs; unavailable or deadlineExceeded: containerd did not answer) and then deletes nothing.
  std::optional<TaskExit> afterExit(const std::string& id, Deadline deadline);

  // Leaves no task and no container object behind (before a start, at removal, at restore).
  // A task that still runs is a conflict (the caller kills it first); an unknown state is an
  // unavailable error; in both cases nothing is deleted.
  void ensureGone(const std::string& id, Deadline deadline);

  // A runtime is about to be made for `id`: what this process knew of its teardown is void.
  void runtimeCreated(const std::string& id);

 private:
  void removeContainerAndUnmount(const std::string& id, Deadline deadline);

  // Containers whose runtime this process tore down after their exit: the removal that follows
  // (docker run --rm) has nothing to ask containerd. Kept in memory only, so a restarted bridge
  // checks with containerd again.
  std::mutex mutex_;
  std::set<std::string> tornDown_;

  ContainerdTasks& tasks_;
  ContainerdContainers& containers_;
  HostOps& host_;
  VolumeAttachments& volumes_;
  const ServicePaths& paths_;
};

}  // namespace berth::bridge
