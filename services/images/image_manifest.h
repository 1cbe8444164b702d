// What a pull reads from a registry before it downloads a layer: a manifest list's (or OCI
// index's) choice for linux/amd64, an image manifest's config and layer descriptors, and the
// image config's diff ids, one per layer. Pure functions over untrusted documents, apart from
// the pull's network steps (image_distribution.cc) so they can be tested and fuzzed alone;
// they throw invalid (notFound for a list without linux/amd64) in the words pulls answer.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace berth::images {

struct BlobDescriptor {
  std::string digest;  // as the manifest gives it
  uint64_t size = 0;   // positive: the download is held to it
};

struct ImageManifest {
  BlobDescriptor config;
  std::vector<BlobDescriptor> layers;  // bottom first, each digest "sha256:<64 hex>"
};

// A descriptor's size: a positive integer, as the distribution spec requires.
uint64_t declaredSize(const nlohmann::json& descriptor);

// Whether a manifest of this media type and shape lists per-platform manifests.
bool isManifestList(const std::string& mediaType, const nlohmann::json& doc);

// The digest of a list's linux/amd64 manifest; notFound when the list names none.
std::string linuxAmd64Manifest(const nlohmann::json& list);

// A schema 2 or OCI image manifest of `reference`: its config (at most kMaxConfigBytes) and
// its layers.
ImageManifest readImageManifest(const nlohmann::json& doc, const std::string& reference);

// The diff ids of the image config `id`, which must list one per layer of its manifest.
std::vector<std::string> configDiffIds(const nlohmann::json& config, const std::string& id, size_t layerCount,
                                       const std::string& reference);

}  // namespace berth::images
