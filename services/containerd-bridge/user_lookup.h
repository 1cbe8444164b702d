// Resolving a container's user ("name", "uid", "name:group", "uid:gid") in the container's own
// /etc/passwd and /etc/group, as dockerd does. Parsed as text, never through NSS: the files
// belong to the container and must not load its code into a berth process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace berth::bridge {

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additionalGids;
};
// "", "name", "uid", "name:group", "uid:gid" against rootfs/etc/passwd and rootfs/etc/group
// (resolved inside rootfs; a missing, non-regular or huge file counts as empty),
// plus `groupAdd` names or ids. invalid "unable to find user NAME: no matching entries in
// passwd file" when a name is unknown.
ResolvedUser resolveUser(const std::string& rootfs, const std::string& user, const std::vector<std::string>& groupAdd);

}  // namespace berth::bridge
