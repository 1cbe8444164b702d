// The only code that deletes a container's objects in containerd (its task, its container
// object) and unmounts its root filesystem. Its rule: containerd's container object is deleted
// only once containerd has said the task is gone or has handed back its exit, never while a task
// may still run, and never on an unknown state (containerd's Containers.Delete does not check;
// a container deleted under a live task leaves a process nothing can reach). The volumes mounted
// for the run are unmounted with the root filesystem.
#pragma once

#include <condition_variable>
#include <functional>
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

  // After containerd reported the task stopped, the teardown split in two so the exit can be
  // recorded before containerd's slow part: when the container's logger confirms the log whole
  // (HostOps::drainLogger), unmounts the root filesystem and the run's volumes, marks the
  // deletion of the task and container object as deferred and returns true; finishDeferred
  // (on a background thread, after the exit is recorded) deletes them. False, doing nothing,
  // when the logger cannot confirm: afterExit then, whose task deletion closes the log's pipes.
  bool beginDeferred(const std::string& id);
  void finishDeferred(const std::string& id);
  // Whether a deferred deletion of `id`'s task and container object is under way. A removal
  // does not wait for it: a bridge that dies before it ends leaves a stopped task no record
  // stands for, which the next restore (or the sweep for strays) deletes.
  bool deferred(const std::string& id);

  // Leaves no task and no container object behind (before a start, at removal, at restore),
  // after waiting for a deferred deletion under way. A task that still runs is a conflict (the
  // caller kills it first); an unknown state is an unavailable error; in both cases nothing is
  // deleted.
  // `keepMounts`: a start that found the last run's objects in its way, with this run's root
  // filesystem and volumes mounted already.
  void ensureGone(const std::string& id, Deadline deadline, bool keepMounts = false);
  // The container's record is being removed: what this process remembers of it goes (a
  // deferred deletion under way still ends, and then remembers nothing).
  void forget(const std::string& id);
  // Waits until no deferred deletion of `id` is under way: a new run must not meet the last
  // run's task or have its root filesystem unmounted under it. deadlineExceeded past `deadline`.
  void settle(const std::string& id, Deadline deadline);
  // Waits until no deferred deletion is under way, or `deadline` passed (engine shutdown: the
  // containers it stopped leave no task behind). False when some were still under way.
  bool settleAll(Deadline deadline);

  // containerd's container objects that no record stands for (`recorded` says which do), each
  // made sure to be gone as ensureGone does (a task that still runs keeps its object): what a
  // bridge that died within a deferred deletion, after the task and before the object, left.
  // Returns how many went.
  size_t removeUnrecorded(const std::function<bool(const std::string&)>& recorded, Deadline deadline);

  // A runtime is about to be made for `id`: what this process knew of its teardown is void.
  void runtimeCreated(const std::string& id);

 private:
  void removeContainerAndUnmount(const std::string& id, Deadline deadline, bool keepMounts = false);

  // Containers whose runtime this process tore down after their exit: the removal that follows
  // (docker run --rm) has nothing to ask containerd. Kept in memory only, so a restarted bridge
  // checks with containerd again.
  std::mutex mutex_;
  std::condition_variable deferredEnded_;
  std::set<std::string> tornDown_;
  std::set<std::string> deferred_;
  std::set<std::string> forgotten_;  // removed while their deferred deletion was under way

  ContainerdTasks& tasks_;
  ContainerdContainers& containers_;
  HostOps& host_;
  VolumeAttachments& volumes_;
  const ServicePaths& paths_;
};

}  // namespace berth::bridge
