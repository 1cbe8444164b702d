// Runs a container's process: the steps of a start that happen outside the container record,
// in the order they run, each undone when a later one fails.
//   prepareStorage   the container's layer from the images service, mounted as its rootfs, and
//                    its volumes, mounted by the volumes service
//   writeHostFiles   hostname, hosts and resolv.conf in the container's directory
//   finaliseSpec     the OCI spec for this run (user resolved in the rootfs, hosts files and
//                    volumes bound, mounts ordered so a parent comes before what it holds)
//   prepareStdio     the logger (under the shim, or detached for a non-TTY stdin) and fifos
//   createRuntime    containerd's container object, its task, and the task's start
// Networks join as a step between storage and spec when their service lands.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/errors.h"
#include "services/containerd-bridge/container_links.h"
#include "services/containerd-bridge/container_networks.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_types.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/host_ops.h"
#include "services/containerd-bridge/image_layers.h"
#include "services/containerd-bridge/runtime_teardown.h"
#include "services/containerd-bridge/volume_attachments.h"

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
               ImageLayers& images, HostOps& host, RuntimeTeardown& teardown, VolumeAttachments& volumes,
               ContainerNetworks& networks, const ServicePaths& paths)
      : store_(store), tasks_(tasks), containers_(containers), images_(images), host_(host), teardown_(teardown),
        volumes_(volumes), networks_(networks), paths_(paths) {}

  // Returns the started process's pid. Throws LaunchError after undoing what it did.
  uint32_t launch(const ContainerRecord& record, Deadline deadline);

 private:
  // Returns the volumes' OCI mounts.
  std::vector<nlohmann::json> prepareStorage(const ContainerRecord& record, Deadline deadline);
  // Undoes prepareStorage.
  void releaseStorage(const std::string& id, Deadline deadline);
  void writeHostFiles(const ContainerRecord& record, const std::vector<ContainerLink>& links);
  // `netns`: the network namespace to join ("" for the host's network, or runc's new one).
  nlohmann::json finaliseSpec(const ContainerRecord& record, const std::vector<nlohmann::json>& volumeMounts,
                              const std::vector<std::string>& extraEnv, const std::string& netns);
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
  VolumeAttachments& volumes_;
  ContainerNetworks& networks_;
  const ServicePaths& paths_;
};

}  // namespace berth::bridge
