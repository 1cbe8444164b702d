#include "services/containerd-bridge/filesystem_access.h"

#include <unistd.h>

#include "common/errors.h"
#include "common/files.h"
#include "services/containerd-bridge/mount_points.h"
#include "services/containerd-bridge/oci_spec.h"

namespace berth::bridge {

using json = nlohmann::json;

FilesystemAccess FilesystemAccessor::access(const std::string& ref, Deadline deadline) {
  auto record = store_.get(ref);
  FilesystemAccess access;
  access.id = record.id;
  access.lock = locks_.of(record.id);
  access.hold = std::unique_lock(*access.lock);
  record = store_.get(record.id);
  admit(Operation::copy, record.state.status, {record.id, record.name, ref});
  access.rootfs = paths_.rootfsOf(record.id);
  access.readonlyRootfs = record.hostConfig.value("ReadonlyRootfs", false);
  access.user = record.config.value("User", "");

  // The binds as the container gets them (validated as at start), without reading anything of
  // the container's (no root filesystem: the user is not resolved), its volumes (at their
  // mountpoints: a volume with a device is only there while a container runs with it), and its
  // hosts files.
  json spec = buildOciSpec({record.config, hostConfigForSpec(record.hostConfig), "", record.id.substr(0, 12),
                            paths_.initBinary});
  for (const auto& p : record.mountPoints) {
    if (p.type == MountPoint::Type::volume) spec["mounts"].push_back(volumeSpecMount(p, p.source));
  }
  sortMountsByDepth(spec["mounts"]);
  for (const auto& m : spec["mounts"]) {
    if (m.value("type", "") != "bind") continue;
    bool readonly = false;
    for (const auto& o : m.value("options", json::array())) readonly = readonly || o == "ro";
    access.binds.push_back({{"source", m["source"]}, {"destination", m["destination"]}, {"readonly", readonly}});
  }

  std::string dir = store_.directoryOf(record.id);
  for (const char* file : {"hostname", "hosts", "resolv.conf"}) {
    std::string destination = std::string("/etc/") + file;
    bool userMount = false;
    for (const auto& b : access.binds) userMount = userMount || b["destination"] == destination;
    if (!userMount && ::access((dir + "/" + file).c_str(), F_OK) == 0) {
      access.binds.push_back({{"source", dir + "/" + file}, {"destination", destination}, {"readonly", access.readonlyRootfs}});
    }
  }

  // Held for the whole copy, as dockerd holds the container: no start, stop or removal
  // meanwhile (an exit still happens; berth-archive keeps its own copy of the mount).
  if (host_.mounted(access.rootfs)) return access;
  auto mounts = record.rootfsMounts.empty() ? images_.prepare(record.id, record.image, deadline).mounts : record.rootfsMounts;
  if (mounts.size() != 1) throw Error(ErrorKind::internal, "expected one rootfs mount, got " + std::to_string(mounts.size()));
  access.mount = mounts[0];
  makeDirectories(access.rootfs, 0755);
  return access;
}

}  // namespace berth::bridge
