// Shims containerd lost track of. containerd killed while it starts or deletes a task can come
// back without the shim it had started: the shim, the container's processes under it and its
// logger then run on, unknown to containerd, and nothing would ever end them. The bridge finds
// them by their command line (this engine's containerd socket and namespace) and ends them
// when containerd has no task for their container, no operation holds the container, and berth
// does not record it running, taking the socket a killed shim cannot remove itself. Swept when
// the bridge starts and every 10 s.
//
// The same sweep ends a task containerd does list when no container record stands for it, its
// container's lock is free, and two sweeps in a row met it: the restore that should have deleted
// it (a start a bridge kill cut, under a --rm container removed since) did not, and no later
// restore would, since every kill that would bring one had already come.
#pragma once

#include <atomic>
#include <set>
#include <string>
#include <vector>

#include <sys/types.h>

#include "common/deadline.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/host_ops.h"
#include "services/containerd-bridge/operation_locks.h"
#include "services/containerd-bridge/runtime_teardown.h"

namespace berth::bridge {

struct ShimProcess {
  pid_t pid = 0;
  std::string id;  // the container's
};

// The paths of the Unix sockets `pid` listens on, as its own network namespace's
// /proc/net/unix names them (abstract ones left out): a shim's ttrpc socket.
std::vector<std::string> listeningSocketPaths(pid_t pid);

// The socket a container's shim listens on. containerd's shim names it
// /run/containerd/s/<sha256 of "<containerd's socket>/<namespace>/<id>"> (SocketAddress in
// containerd's runtime/v2/shim), one directory for every containerd on the machine. (The id
// part is the container's own while berth sets no `io.containerd.runc.v2.group` annotation,
// which would make containers share a shim and its socket.)
std::string shimSocketPath(const std::string& containerdSocket, const std::string& ns, const std::string& id);

// Removes that socket when no process listens on it any more (it is a socket and a connect to
// it is refused); true when it was removed. A shim removes its socket when it shuts down; one
// killed does not, and containerd kills the shim's start helper itself when the call that
// creates the task goes away (a bridge killed inside `Tasks.Create`): the helper has bound the
// socket, and no task, shutdown or stray process is left to take it. Call it only where no shim
// of the container can be starting (its removal, under its lock): a socket bound but not yet
// listening refuses a connect too.
bool removeDeadShimSocket(const std::string& containerdSocket, const std::string& ns, const std::string& id);

// The shims in /proc whose command line names `containerdSocket` and `ns`.
std::vector<ShimProcess> findShims(const std::string& containerdSocket, const std::string& ns);

class StrayShims {
 public:
  StrayShims(ContainerStore& store, ContainerdTasks& tasks, RuntimeTeardown& teardown, OperationLocks& locks,
             Scheduler& scheduler, std::string containerdSocket, std::string ns, std::string cgroupParent)
      : store_(store), tasks_(tasks), teardown_(teardown), locks_(locks), scheduler_(scheduler),
        containerdSocket_(std::move(containerdSocket)), ns_(std::move(ns)), cgroupParent_(std::move(cgroupParent)) {}

  // One sweep; returns how many shims it ended. Not reentrant (one sweeping thread).
  size_t sweep(Deadline deadline);
  // Sweeps at once, then every 10 s, on a thread of its own until stop().
  void start();
  void stop() { stopping_ = true; }

 private:
  // The shim of a listed task no record stands for: true when it was ended. Met for the first
  // time, it is only noted in `seen`.
  bool endUnrecordedTask(const ShimProcess& shim, Deadline deadline, std::set<std::string>& seen);

  ContainerStore& store_;
  ContainerdTasks& tasks_;
  RuntimeTeardown& teardown_;
  OperationLocks& locks_;
  Scheduler& scheduler_;
  std::string containerdSocket_, ns_, cgroupParent_;
  std::atomic<bool> stopping_{false};
  std::set<std::string> unrecorded_;  // listed tasks with no record, met by the last sweep
};

}  // namespace berth::bridge
