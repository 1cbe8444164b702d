#include "services/containerd-bridge/image_layers_client.h"

namespace berth::bridge {

ImageLayers::Image ImageLayersClient::inspect(const std::string& ref, Deadline deadline) {
  auto info = images_.inspect(ref, deadline);
  Image image;
  image.id = info.id;
  image.config = nlohmann::json::parse(info.configJson, nullptr, false);
  if (!image.config.is_object()) image.config = nlohmann::json::object();
  return image;
}

std::vector<Mount> ImageLayersClient::prepare(const std::string& container, const std::string& imageId, Deadline deadline) {
  std::vector<Mount> mounts;
  for (auto& m : images_.prepareRootfs(container, imageId, deadline).mounts) {
    mounts.push_back(Mount{std::move(m.type), std::move(m.source), std::move(m.options)});
  }
  return mounts;
}

void ImageLayersClient::release(const std::string& container, Deadline deadline) {
  images_.releaseRootfs(container, deadline);
}

}  // namespace berth::bridge
