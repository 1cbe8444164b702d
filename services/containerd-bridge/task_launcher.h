// Runs a container's process: the steps of a start that happen outside the container record,
// in the order they run, each undone when a later one fails.
//   prepareStorage   the container's layer from the images service, mounted as its rootfs
//   writeHostFiles   hostname, hosts and resolv.conf in the container's directory
//   finaliseSpec     the OCI spec for this run (user resolved in the rootfs, hosts files bound)
//   prepareStdio     the logger (under the shim, or detached for a non-TTY stdin) and fifos
//   createRuntime    containerd's container object, its task, and the task's start
// Volumes and networks join as steps between storage and spec when their services land.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/errors.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_types.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/host_ops.h"
#include "services/containerd-bridge/image_layers.h"
#include "services/containerd-bridge/runtime_teardown.h"

namespace berth::bridge {

// A start that failed, with the exit code dockerd records for it: 127 when the command was not
// found, 126 when it could not be run, 128 otherwise.
class LaunchError : public Error {
 public:
  LaunchError(ErrorKind kind, std::string message, int exitCode)
      : Error(kind, std::move(message)), exitCode_(exitCode) {}
  int exitCode() const { return exitCode_; }

 private:
  int exitCode_;
};

class TaskLauncher {
 public:
  TaskLauncher(const ContainerStore& store, ContainerdTasks& tasks, ContainerdContainers& containers,
               ImageLayers& images, HostOps& host, RuntimeTeardown& teardown, const ServicePaths& paths)
      : store_(store), tasks_(tasks), containers_(containers), images_(images), host_(host), teardown_(teardown),
        paths_(paths) {}

  // Returns the started process's pid. Throws LaunchError after undoing what it did.
  uint32_t launch(const ContainerRecord& record, Deadline deadline);

 private:
  void prepareStorage(const ContainerRecord& record, Deadline deadline);
  void writeHostFiles(const ContainerRecord& record);
  nlohmann::json finaliseSpec(const ContainerRecord& record);
  TaskStdio prepareStdio(const ContainerRecord& record);
  // Ends a detached logger that waits on output fifos no task will write.
  void releaseStdio(const ContainerRecord& record, const TaskStdio& stdio);
  uint32_t createRuntime(const ContainerRecord& record, const nlohmann::json& spec, const TaskStdio& stdio,
                         Deadline deadline);

  const ContainerStore& store_;
  ContainerdTasks& tasks_;
  ContainerdContainers& containers_;
  ImageLayers& images_;
  HostOps& host_;
  RuntimeTeardown& teardown_;
  const ServicePaths& paths_;
};

}  // namespace berth::bridge
