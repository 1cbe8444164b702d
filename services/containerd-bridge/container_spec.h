// A container's OCI spec in two steps: the base, built once from the container's record when it
// is created (and again when docker update changes it), and the finishing touches of each start
// (the root filesystem's path, the user resolved in that filesystem, the hosts files, the
// cgroup). Both are files in the container's directory; neither needs to be durable, since a
// lost one is built again from the durable record.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_types.h"

namespace berth::bridge {

// Everything of the spec that the record decides. invalid (dockerd's message) for a config or
// host config the spec builder refuses: create and update call it to validate.
nlohmann::json baseSpec(const ContainerRecord& record, const ServicePaths& paths);
void writeBaseSpec(const ContainerStore& store, const std::string& id, const nlohmann::json& spec);
// The stored base spec; nullopt when there is none (a record from before it was kept).
std::optional<nlohmann::json> readBaseSpec(const ContainerStore& store, const std::string& id);

}  // namespace berth::bridge
