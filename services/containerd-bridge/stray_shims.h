// Shims containerd lost track of. containerd killed while it starts or deletes a task can come
// back without the shim it had started: the shim, the container's processes under it and its
// logger then run on, unknown to containerd, and nothing would ever end them. The bridge finds
// them by their command line (this engine's containerd socket and namespace) and ends them
// when containerd has no task for their container, no operation holds the container, and berth
// does not record it running. Swept when the bridge starts and every 10 s.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include <sys/types.h>

#include "common/deadline.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/host_ops.h"
#include "services/containerd-bridge/operation_locks.h"

namespace berth::bridge {

struct ShimProcess {
  pid_t pid = 0;
  std::string id;  // the container's
};

// The shims in /proc whose command line names `containerdSocket` and `ns`.
std::vector<ShimProcess> findShims(const std::string& containerdSocket, const std::string& ns);

class StrayShims {
 public:
  StrayShims(ContainerStore& store, ContainerdTasks& tasks, OperationLocks& locks, Scheduler& scheduler,
             std::string containerdSocket, std::string ns, std::string cgroupParent)
      : store_(store), tasks_(tasks), locks_(locks), scheduler_(scheduler),
        containerdSocket_(std::move(containerdSocket)), ns_(std::move(ns)), cgroupParent_(std::move(cgroupParent)) {}

  // One sweep; returns how many shims it ended.
  size_t sweep(Deadline deadline);
  // Sweeps at once, then every 10 s, on a thread of its own until stop().
  void start();
  void stop() { stopping_ = true; }

 private:
  ContainerStore& store_;
  ContainerdTasks& tasks_;
  OperationLocks& locks_;
  Scheduler& scheduler_;
  std::string containerdSocket_, ns_, cgroupParent_;
  std::atomic<bool> stopping_{false};
};

}  // namespace berth::bridge
