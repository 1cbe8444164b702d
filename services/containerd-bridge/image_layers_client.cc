#include "services/containerd-bridge/image_layers_client.h"
#include "common/json_text.h"

namespace berth::bridge {

ImageLayers::Image ImageLayersClient::inspect(const std::string& ref, Deadline deadline) {
  auto info = images_.inspect(ref, deadline);
  Image image;
  image.id = info.id;
  image.config = parseJsonOrDiscarded(info.configJson);
  if (!image.config.is_object()) image.config = nlohmann::json::object();
  return image;
}

ImageLayers::Prepared ImageLayersClient::prepare(const std::string& container, const std::string& image,
                                                Deadline deadline) {
  auto prepared = images_.prepareRootfs(container, image, deadline);
  Prepared out;
  out.image.id = prepared.imageId;
  out.image.config = parseJsonOrDiscarded(prepared.configJson);
  if (!out.image.config.is_object()) out.image.config = nlohmann::json::object();
  for (auto& m : prepared.mounts) out.mounts.push_back(Mount{std::move(m.type), std::move(m.source), std::move(m.options)});
  return out;
}

void ImageLayersClient::release(const std::string& container, Deadline deadline) {
  images_.releaseRootfs(container, deadline);
}

}  // namespace berth::bridge
