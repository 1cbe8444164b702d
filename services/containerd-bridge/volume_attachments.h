// A container's volumes across its life, on the bridge's side. At create its mount points are
// planned (mount_points.h), the volumes they name are made, referenced, and filled from the
// image where they are empty (dockerd's copy-up, done at create as dockerd does); at each start
// each volume is mounted for the run and bound into the spec; after each run it is unmounted;
// at removal the references go, and with docker rm -v (and --rm) the anonymous volumes too.
//
// The volumes service keeps the reference and mount tables. A call that fails after the
// container has moved on (an unmount after an exit while the service restarts) is made good by
// a reconcile: the bridge's whole view (every container's volumes, the ones mounted for a
// running task) replaces the service's tables. It runs at the bridge's restore and after any
// failed call, retried in the background until the service takes it, and never interleaves
// with another call of this class.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/deadline.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/host_ops.h"
#include "services/containerd-bridge/mount_points.h"
#include "services/containerd-bridge/volume_service.h"

namespace berth::bridge {

class VolumeAttachments {
 public:
  // `volumes` may be null (unit tests of other parts): a container that needs a volume is then
  // refused `unavailable`; one with binds and tmpfs mounts only needs no service.
  VolumeAttachments(const ContainerStore& store, VolumeService* volumes, HostOps& host, Scheduler& scheduler)
      : store_(store), volumes_(volumes), host_(host), scheduler_(scheduler) {}

  // At create, before the record is stored: plans the mount points from Docker's config (the
  // image's merged in), makes and references their volumes, and copies the image's content
  // into the empty ones through the container's root filesystem (`rootfs`, mounted here for
  // the copy when `layer` is given). Returns the mount points with names and sources. Throws
  // with nothing of its own left behind.
  std::vector<MountPoint> attach(const std::string& id, const nlohmann::json& config, const nlohmann::json& hostConfig,
                                 const std::vector<Mount>& layer, const std::string& rootfs, Deadline deadline);
  // The record is stored (or the create failed after attach: `abandoned`, which drops the
  // references and removes the anonymous volumes attach made).
  void attached(const std::string& id);
  void abandoned(const std::string& id, const std::vector<MountPoint>& points, Deadline deadline) noexcept;

  // At start, with the root filesystem mounted: each volume mounted for the run, as the OCI
  // bind mounts to add to the spec. Throws after unmounting those it mounted.
  std::vector<nlohmann::json> mount(const ContainerRecord& record, Deadline deadline);
  // After the run (and after a start that failed once mount() succeeded): unmounts what mount()
  // mounted. A failure is left to the reconcile.
  void unmount(const std::string& id, Deadline deadline) noexcept;

  // At removal: drops the references, and removes the anonymous volumes when asked (docker rm
  // -v, --rm) unless another container uses them. Throws when the service cannot take it (the
  // removal then fails and can be repeated).
  void release(const ContainerRecord& record, bool removeAnonymous, Deadline deadline);

  // At the bridge's restore: the containers whose tasks run hold their volumes' mounts; then a
  // reconcile in the background.
  void restored(const std::vector<std::string>& runningIds);
  // Sends the whole view now; false when the service did not take it (retried by the caller).
  bool reconcile(Deadline deadline);
  // Sends it on a thread of its own, retried every second until the service takes it.
  void reconcileSoon();

 private:
  VolumeService& service(const std::string& forWhat) const;
  void reconcileAttempt();
  void copyUp(const std::string& id, std::vector<MountPoint>& points, const std::vector<Mount>& layer,
              const std::string& rootfs, Deadline deadline);

  const ContainerStore& store_;
  VolumeService* volumes_;
  HostOps& host_;
  Scheduler& scheduler_;

  // Calls take it shared; a reconcile exclusive, so it sends a view no call is changing.
  std::shared_mutex calls_;
  std::mutex mutex_;
  std::map<std::string, std::vector<std::string>> pending_;      // attached, record not stored yet
  std::map<std::string, std::vector<std::string>> mounted_;      // container -> volumes mounted for its run
  std::atomic<bool> reconcileScheduled_{false};
};

// The volume mount points of a record (binds and tmpfs mounts left out).
std::vector<std::string> volumeNamesOf(const std::vector<MountPoint>& points);

}  // namespace berth::bridge
