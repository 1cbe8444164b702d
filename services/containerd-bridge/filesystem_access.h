// docker cp's view of a container: what berth-archive needs to assemble the filesystem dockerd
// shows (the root filesystem and the container's bind mounts) for a running or a stopped
// container. The bridge decides every path and mount here; the client only names the path
// inside the container, which berth-archive resolves after it has chrooted.
#pragma once

#include <string>

#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_types.h"
#include "services/containerd-bridge/host_ops.h"
#include "services/containerd-bridge/image_layers.h"
#include "services/containerd-bridge/operation_locks.h"

namespace berth::bridge {

class FilesystemAccessor {
 public:
  FilesystemAccessor(const ContainerStore& store, ImageLayers& images, HostOps& host, OperationLocks& locks,
                     const ServicePaths& paths)
      : store_(store), images_(images), host_(host), locks_(locks), paths_(paths) {}

  // The container's filesystem for berth-archive, with its operation lock held (see
  // FilesystemAccess).
  FilesystemAccess access(const std::string& ref, Deadline deadline);

 private:
  const ContainerStore& store_;
  ImageLayers& images_;
  HostOps& host_;
  OperationLocks& locks_;
  const ServicePaths& paths_;
};

}  // namespace berth::bridge
