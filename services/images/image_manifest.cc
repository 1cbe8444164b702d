#include "services/images/image_manifest.h"

#include "common/errors.h"
#include "common/image_reference.h"
#include "services/images/registry_client.h"

namespace berth::images {

using json = nlohmann::json;

uint64_t declaredSize(const json& descriptor) {
  const auto& size = descriptor.is_object() && descriptor.contains("size") ? descriptor["size"] : json();
  if (!size.is_number_integer() || size.get<int64_t>() <= 0) {
    throw Error(ErrorKind::invalid, "descriptor " + (descriptor.is_object() ? descriptor.value("digest", "") : "") +
                                        " has no valid size");
  }
  return size.get<uint64_t>();
}

bool isManifestList(const std::string& mediaType, const json& doc) {
  return mediaType == "application/vnd.docker.distribution.manifest.list.v2+json" ||
         mediaType == "application/vnd.oci.image.index.v1+json" || doc.contains("manifests");
}

std::string linuxAmd64Manifest(const json& list) {
  std::string chosen;
  for (const auto& m : list.value("manifests", json::array())) {
    auto p = m.value("platform", json::object());
    if (p.value("os", "") == "linux" && p.value("architecture", "") == "amd64") {
      chosen = m.value("digest", "");
      break;
    }
  }
  if (chosen.empty()) throw Error(ErrorKind::notFound, "no matching manifest for linux/amd64 in the manifest list entries");
  return chosen;
}

ImageManifest readImageManifest(const json& doc, const std::string& reference) {
  if (!doc.is_object() || doc.value("schemaVersion", 0) != 2 || !doc.contains("config") || !doc.contains("layers")) {
    throw Error(ErrorKind::invalid, "unsupported manifest for " + reference + " (only schema 2 and OCI manifests)");
  }
  ImageManifest m;
  const json& config = doc["config"];
  m.config.digest = config.value("digest", "");
  m.config.size = declaredSize(config);
  if (m.config.size > kMaxConfigBytes) {
    throw Error(ErrorKind::invalid, "image config " + m.config.digest + " declares " + std::to_string(m.config.size) +
                                        " bytes, more than the " + std::to_string(kMaxConfigBytes >> 20) + " MiB allowed");
  }
  if (!doc["layers"].is_array()) throw Error(ErrorKind::invalid, "malformed manifest or config for " + reference);
  for (const auto& layer : doc["layers"]) {
    if (!layer.is_object()) throw Error(ErrorKind::invalid, "malformed manifest or config for " + reference);
    std::string digest = layer.value("digest", "");
    if (!isFullImageId(digest) || digest.rfind("sha256:", 0) != 0) throw Error(ErrorKind::invalid, "bad layer digest " + digest);
    m.layers.push_back({digest, declaredSize(layer)});
  }
  return m;
}

std::vector<std::string> configDiffIds(const json& config, const std::string& id, size_t layerCount,
                                       const std::string& reference) {
  if (!config.is_object() || !config.contains("rootfs") || !config["rootfs"].is_object() ||
      !config["rootfs"].value("diff_ids", json()).is_array()) {
    throw Error(ErrorKind::invalid, "image config " + id + " has no rootfs.diff_ids");
  }
  const json& diffIds = config["rootfs"]["diff_ids"];
  if (diffIds.size() != layerCount) {
    throw Error(ErrorKind::invalid, "image config lists " + std::to_string(diffIds.size()) + " layers, manifest " +
                                        std::to_string(layerCount));
  }
  std::vector<std::string> out;
  for (const auto& d : diffIds) {
    if (!d.is_string()) throw Error(ErrorKind::invalid, "malformed manifest or config for " + reference);
    out.push_back(d.get<std::string>());
  }
  return out;
}

}  // namespace berth::images
