// docker cp's view of a container: what berth-archive needs to assemble the filesystem dockerd
// shows (the root filesystem and the container's bind mounts) for a running or a stopped
// container. The bridge decides every path and mount here; the client only names the path
// inside the container, which berth-archive resolves after it has chrooted.
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/files.h"
#include "services/containerd-bridge/container_service.h"
#include "services/containerd-bridge/oci_spec.h"

namespace berth::bridge {

using json = nlohmann::json;

FilesystemAccess ContainerService::filesystemAccess(const std::string& ref) {
  auto record = store_.get(ref);
  FilesystemAccess access;
  access.id = record.id;
  access.lock = opLock(record.id);
  access.hold = std::unique_lock(*access.lock);
  record = store_.get(record.id);
  if (record.removing) throw Error(ErrorKind::conflict, "You cannot copy files of container " + record.id + " while its removal is in progress");
  access.rootfs = rootfsPath(record.id);
  access.readonlyRootfs = record.hostConfig.value("ReadonlyRootfs", false);
  access.user = record.config.value("User", "");

  // The binds as the container gets them (validated as at start); the user is left out, it
  // needs the container's /etc/passwd and plays no part in mounts.
  json config = record.config;
  config["User"] = "";
  json spec = buildOciSpec({config, record.hostConfig, json::object(), access.rootfs, record.id.substr(0, 12), paths_.initBinary});
  for (const auto& m : spec["mounts"]) {
    if (m.value("type", "") != "bind") continue;
    bool readonly = false;
    for (const auto& o : m.value("options", json::array())) readonly = readonly || o == "ro";
    access.binds.push_back({{"source", m["source"]}, {"destination", m["destination"]}, {"readonly", readonly}});
  }

  if (mountedAt(access.rootfs)) {
    // Running: berth-archive binds the mounted root; the container may stop meanwhile.
    access.hold.unlock();
    return access;
  }
  auto mounts = images_.prepareRootfs(record.id, record.image);
  if (mounts.size() != 1) throw Error(ErrorKind::internal, "expected one rootfs mount, got " + std::to_string(mounts.size()));
  access.mount = mounts[0];
  makeDirectories(access.rootfs, 0755);
  return access;
}

}  // namespace berth::bridge
