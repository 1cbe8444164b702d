// The container operations whose work is done on the container's writable layer by the images
// service, orchestrated here as dockerd's daemon does them: docker diff, docker export,
// docker commit, and the sizes of ps -s and inspect -s. This part resolves the container, holds
// its operation lock while the images service reads the layer, pauses a running container for
// a commit, and leaves the layer work to the images service (container_layers.h).
//
// The lock stands in for dockerd's reference on the layer: while it is held no removal can
// delete the layer under the read, and no start or stop runs (as for docker cp). Sizes take no
// lock: ps and inspect never wait on a busy container.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "services/containerd-bridge/container_layers.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/operation_locks.h"

namespace berth::bridge {

class LayerOperations {
 public:
  // How a commit pauses a running container: the lifecycle's pause and unpause, which take the
  // container's operation lock themselves, change its status and emit their events.
  struct Pausing {
    std::function<void(const std::string& id, Deadline deadline)> pause;
    std::function<void(const std::string& id, Deadline deadline)> unpause;
  };

  // `layers` may be null (a core built without them): every operation then fails unavailable.
  LayerOperations(const ContainerStore& store, ContainerLayers* layers, OperationLocks& locks, Pausing pausing)
      : store_(store), layers_(layers), locks_(locks), pausing_(std::move(pausing)) {}

  // docker diff.
  std::vector<ContainerLayers::Change> changes(const std::string& ref, Deadline deadline);
  // docker export: while the lock is held, the images service holds the container's layers and
  // starts writing the tar; the caller reads the download from the images service as it grows.
  ContainerLayers::Download exportBegin(const std::string& ref, Deadline deadline);

  struct CommitRequest {
    std::string body;                  // POST /commit's body: a Docker Config (JSON, untrusted), or empty
    std::vector<std::string> changes;  // Dockerfile instructions (untrusted), applied by the images service
    std::string reference;             // "repo:tag", or empty
    std::string message;
    std::string author;
    bool pause = true;
  };
  // docker commit: the container's Config (as inspect shows it) with the body's non-null fields
  // over it becomes the new image's config, then the changes apply. With `pause`, a running
  // container is paused for the commit and unpaused after; one that cannot be paused is
  // committed as it is (dockerd ignores that error too). Returns the new image's id.
  std::string commit(const std::string& ref, const CommitRequest& request, Deadline deadline);

  // Sets SizeRw and SizeRootFs in each document of `containers` (an array of inspect or list
  // entries, by their "Id"), from one call to the images service; a container without a layer
  // (being created or removed) gets none.
  void addSizes(nlohmann::json& containers, Deadline deadline) const;
  // The same sizes by container id, from one call.
  std::map<std::string, ContainerLayers::Size> sizes(const std::vector<std::string>& ids, Deadline deadline) const {
    return layers().sizes(ids, deadline);
  }

 private:
  // The container `ref` names, with its operation lock held.
  struct Held {
    ContainerRecord record;
    std::shared_ptr<std::mutex> lock;
    std::unique_lock<std::mutex> hold;
  };
  Held hold(const std::string& ref) const;
  ContainerLayers& layers() const;

  const ContainerStore& store_;
  ContainerLayers* layers_;
  OperationLocks& locks_;
  Pausing pausing_;
};

}  // namespace berth::bridge
