// Building a container's OCI runtime spec from its Docker configuration (the image's defaults
// already merged in at create, by mergeImageConfig): the command (Entrypoint/Cmd), environment, working directory, user (resolved in
// the image's /etc/passwd and /etc/group), terminal, Docker's default capability set with
// CapAdd/CapDrop/Privileged, no-new-privileges, rlimits, the standard mounts plus binds and
// tmpfs, namespaces, masked and read-only paths, and resources. Inputs come from the API and
// are untrusted: every malformed value is an `invalid` error naming it, as dockerd words it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "services/containerd-bridge/user_lookup.h"

namespace berth::bridge {

struct SpecInput {
  nlohmann::json config;       // Docker's container Config (Cmd, Entrypoint, Env, User, Tty, ...)
  nlohmann::json hostConfig;   // Docker's HostConfig (Binds, Tmpfs, Memory, CapAdd, ...)
  std::string rootfs;          // the container's root filesystem, for user and group look-ups (empty: none)
  std::string hostname;        // defaults to the first 12 characters of the container id
  std::string initBinary;      // HostConfig.Init: bound at /sbin/docker-init, runs the command
};

nlohmann::json buildOciSpec(const SpecInput& input);

// Orders an OCI spec's mounts as dockerd does: by the number of components of the destination,
// so a mount comes after the one it lies in (a bind at /data/conf after a volume at /data);
// mounts of equal depth keep their order.
void sortMountsByDepth(nlohmann::json& mounts);

// Sets the spec's process user to `user` (Config.User) resolved in `rootfs`'s /etc/passwd and
// /etc/group, with HostConfig.GroupAdd's groups: what a spec built without a root filesystem
// lacks.
void resolveSpecUser(nlohmann::json& spec, const std::string& rootfs, const std::string& user,
                     const std::vector<std::string>& groupAdd);

// Docker's default capabilities, in OCI spelling ("CAP_CHOWN", ...).
const std::vector<std::string>& defaultCapabilities();

// What --privileged and --cap-add ALL grant: every capability in the bounding set this process
// started with. The first call reads it, so the bridge calls this before it drops its own.
const std::vector<std::string>& grantableCapabilities();

}  // namespace berth::bridge
