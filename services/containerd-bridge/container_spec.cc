#include "services/containerd-bridge/container_spec.h"

#include "common/files.h"
#include "services/containerd-bridge/mount_points.h"
#include "services/containerd-bridge/oci_spec.h"
#include "common/json_text.h"

namespace berth::bridge {

using json = nlohmann::json;

json baseSpec(const ContainerRecord& record, const ServicePaths& paths) {
  // The network namespace's path and the volumes are set at start, where the network and
  // volumes services made them (TaskLauncher).
  json hostConfig = hostConfigForSpec(record.hostConfig);
  return buildOciSpec({record.config, hostConfig, "", record.id.substr(0, 12), paths.initBinary});
}

void writeBaseSpec(const ContainerStore& store, const std::string& id, const json& spec) {
  writeFileReplacing(store.directoryOf(id) + "/base-spec.json", spec.dump(), 0600);
}

std::optional<json> readBaseSpec(const ContainerStore& store, const std::string& id) {
  auto text = readFileIfExists(store.directoryOf(id) + "/base-spec.json");
  if (!text) return std::nullopt;
  auto spec = parseJsonOrDiscarded(*text);
  if (!spec.is_object()) return std::nullopt;
  return spec;
}

}  // namespace berth::bridge
