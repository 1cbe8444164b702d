#include "services/containerd-bridge/volume_attachments.h"

#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/random.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;


bool isVolume(const MountPoint& p) { return p.type == MountPoint::Type::volume; }

}  // namespace

std::vector<std::string> volumeNamesOf(const std::vector<MountPoint>& points) {
  std::vector<std::string> names;
  for (const auto& p : points) {
    if (isVolume(p) && !p.name.empty()) names.push_back(p.name);
  }
  return names;
}

VolumeService& VolumeAttachments::service(const std::string& forWhat) const {
  if (!volumes_) throw Error(ErrorKind::unavailable, "the volumes service is not available to " + forWhat);
  return *volumes_;
}

std::vector<MountPoint> VolumeAttachments::attach(const std::string& id, const json& config, const json& hostConfig,
                                                  const std::vector<Mount>& layer, const std::string& rootfs,
                                                  Deadline deadline) {
  auto points = planMountPoints(config, hostConfig, [&](const std::string& ref) { return store_.get(ref).mountPoints; });
  bool anyVolume = false;
  for (const auto& p : points) anyVolume = anyVolume || isVolume(p);
  if (!anyVolume) return points;
  auto& svc = service("create the container's volumes");
  std::shared_lock calls(calls_);
  std::vector<std::string> madeAnonymous;
  bool referenced = false;
  try {
    for (auto& p : points) {
      if (!isVolume(p)) continue;
      VolumeService::Request request{p.name, p.driver, p.labels, p.driverOptions, p.anonymous};
      auto volume = svc.create(request, capped(deadline, 30s));
      if (p.name.empty()) madeAnonymous.push_back(volume.name);
      p.name = volume.name;
      p.source = volume.mountpoint;
    }
    auto names = volumeNamesOf(points);
    {
      std::lock_guard lock(mutex_);
      pending_[id] = names;
    }
    referenced = true;
    svc.reference(id, names, capped(deadline, 10s));
    copyUp(id, points, layer, rootfs, deadline);
  } catch (...) {
    {
      std::lock_guard lock(mutex_);
      pending_.erase(id);
    }
    try {
      if (referenced) svc.release(id, capped(deadline, 10s));
      for (const auto& name : madeAnonymous) svc.remove(name, capped(deadline, 10s));
    } catch (const Error& e) {
      spdlog::warn("containers: undoing the volumes of {}'s create: {}", shortId(id), e.what());
      calls.unlock();
      reconcileSoon();
    }
    throw;
  }
  return points;
}

void VolumeAttachments::copyUp(const std::string& id, std::vector<MountPoint>& points, const std::vector<Mount>& layer,
                               const std::string& rootfs, Deadline deadline) {
  if (layer.empty()) return;
  host_.mountRootfs(layer, rootfs);
  try {
    for (const auto& p : points) {
      if (!isVolume(p)) continue;
      auto entry = host_.lookupInRootfs(rootfs, p.destination);
      // As dockerd: an anonymous volume (an image's VOLUME, -v /path) cannot cover a file.
      if (p.anonymous && entry.kind == HostOps::RootfsEntry::Kind::other) {
        throw Error(ErrorKind::invalid, "cannot mount volume over existing file, file exists " + entry.hostPath);
      }
      if (!p.copyData || entry.kind != HostOps::RootfsEntry::Kind::directory) continue;
      volumes_->populate(id, p.name, entry.hostPath, capped(deadline, 5min));
    }
  } catch (...) {
    host_.unmountRootfs(rootfs);
    throw;
  }
  host_.unmountRootfs(rootfs);
}

void VolumeAttachments::attached(const std::string& id) {
  std::lock_guard lock(mutex_);
  pending_.erase(id);
}

void VolumeAttachments::abandoned(const std::string& id, const std::vector<MountPoint>& points, Deadline deadline) noexcept {
  {
    std::lock_guard lock(mutex_);
    pending_.erase(id);
  }
  if (volumeNamesOf(points).empty() || !volumes_) return;
  std::shared_lock calls(calls_);
  try {
    volumes_->release(id, capped(deadline, 10s));
    for (const auto& p : points) {
      if (isVolume(p) && p.anonymous) volumes_->remove(p.name, capped(deadline, 10s));
    }
  } catch (const Error& e) {
    spdlog::warn("containers: undoing the volumes of {}'s create: {}", shortId(id), e.what());
    calls.unlock();
    reconcileSoon();
  }
}

std::vector<json> VolumeAttachments::mount(const ContainerRecord& record, Deadline deadline) {
  std::vector<json> specMounts;
  std::vector<const MountPoint*> volumes;
  for (const auto& p : record.mountPoints) {
    if (isVolume(p)) volumes.push_back(&p);
  }
  if (volumes.empty()) return specMounts;
  auto& svc = service("mount the container's volumes");
  std::shared_lock calls(calls_);
  std::vector<std::string> mounted;
  try {
    for (const auto* p : volumes) {
      std::string path = svc.mount(record.id, p->name, p->destination, p->readWrite, capped(deadline, 30s));
      mounted.push_back(p->name);
      specMounts.push_back(volumeSpecMount(*p, path));
    }
  } catch (...) {
    try {
      for (const auto& name : mounted) svc.unmount(record.id, name, capped(deadline, 10s));
    } catch (const Error& e) {
      spdlog::warn("containers: unmounting the volumes of {} after a failed start: {}", shortId(record.id), e.what());
      calls.unlock();
      reconcileSoon();
    }
    throw;
  }
  std::lock_guard lock(mutex_);
  mounted_[record.id] = std::move(mounted);
  return specMounts;
}

void VolumeAttachments::unmount(const std::string& id, Deadline deadline) noexcept {
  std::vector<std::string> names;
  {
    std::lock_guard lock(mutex_);
    auto it = mounted_.find(id);
    if (it == mounted_.end()) return;
    names = std::move(it->second);
    mounted_.erase(it);
  }
  if (!volumes_) return;
  std::shared_lock calls(calls_);
  try {
    for (const auto& name : names) volumes_->unmount(id, name, capped(deadline, 10s));
  } catch (const Error& e) {
    spdlog::warn("containers: unmounting the volumes of {}: {} (the reconcile makes it good)", shortId(id), e.what());
    calls.unlock();
    reconcileSoon();
  }
}

void VolumeAttachments::release(const ContainerRecord& record, bool removeAnonymous, Deadline deadline) {
  {
    std::lock_guard lock(mutex_);
    mounted_.erase(record.id);
  }
  if (volumeNamesOf(record.mountPoints).empty()) return;
  auto& svc = service("release the container's volumes");
  std::shared_lock calls(calls_);
  svc.release(record.id, capped(deadline, 10s));
  if (!removeAnonymous) return;
  for (const auto& p : record.mountPoints) {
    if (!isVolume(p) || !p.anonymous) continue;
    try {
      svc.remove(p.name, capped(deadline, 30s));
    } catch (const Error& e) {
      // In use by another container (--volumes-from), or gone: it stays, as with dockerd.
      spdlog::info("containers: keeping volume {} of removed container {}: {}", p.name, shortId(record.id), e.what());
    }
  }
}

void VolumeAttachments::restored(const std::vector<std::string>& runningIds) {
  {
    std::lock_guard lock(mutex_);
    for (const auto& id : runningIds) {
      try {
        auto names = volumeNamesOf(store_.get(id).mountPoints);
        if (!names.empty()) mounted_[id] = names;
      } catch (const Error&) {
      }
    }
  }
  reconcileSoon();
}

bool VolumeAttachments::reconcile(Deadline deadline) {
  if (!volumes_) return true;
  std::unique_lock calls(calls_);
  std::vector<VolumeService::Usage> usage;
  {
    std::lock_guard lock(mutex_);
    std::set<std::string> seen;
    for (const auto& record : store_.list()) {
      seen.insert(record.id);
      VolumeService::Usage u{record.id, volumeNamesOf(record.mountPoints), {}};
      if (auto it = mounted_.find(record.id); it != mounted_.end()) u.mounted = it->second;
      if (!u.volumes.empty()) usage.push_back(std::move(u));
    }
    for (const auto& [id, names] : pending_) {
      if (!seen.count(id)) usage.push_back({id, names, {}});
    }
  }
  try {
    volumes_->reconcile(usage, deadline);
    spdlog::info("containers: the volumes service has the references of {} containers", usage.size());
    return true;
  } catch (const Error& e) {
    spdlog::warn("containers: reconciling volume references: {}", e.what());
    return false;
  }
}

void VolumeAttachments::reconcileSoon() {
  if (!volumes_ || reconcileScheduled_.exchange(true)) return;
  scheduler_.run([this] { reconcileAttempt(); });
}

void VolumeAttachments::reconcileAttempt() {
  reconcileScheduled_ = false;
  if (reconcile(deadlineIn(10s))) return;
  // Again in a second, until the service takes it.
  if (reconcileScheduled_.exchange(true)) return;
  scheduler_.after(1s, [this] { reconcileAttempt(); });
}

}  // namespace berth::bridge
