#include "services/containerd-bridge/image_layers_client.h"

#include "ipc/methods.h"

namespace berth::bridge {

ImageLayers::Image ImageLayersClient::inspect(const std::string& ref, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::imagesInspect(), deadline,
                                   [&](ipc::Images::InspectParams::Builder p) { p.setRef(ref); });
  auto info = reply.get().getImage();
  Image image;
  image.id = info.getId();
  auto config = info.getConfig();
  image.config = nlohmann::json::parse(std::string(reinterpret_cast<const char*>(config.begin()), config.size()), nullptr, false);
  if (!image.config.is_object()) image.config = nlohmann::json::object();
  return image;
}

std::vector<Mount> ImageLayersClient::prepare(const std::string& container, const std::string& imageId, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::imagesPrepareRootfs(), deadline,
                                   [&](ipc::Images::PrepareRootfsParams::Builder p) {
                                     p.setContainer(container);
                                     p.setImage(imageId);
                                   });
  std::vector<Mount> mounts;
  for (auto m : reply.get().getMounts()) {
    Mount mount{m.getType(), m.getSource(), {}};
    for (auto o : m.getOptions()) mount.options.emplace_back(o);
    mounts.push_back(std::move(mount));
  }
  return mounts;
}

void ImageLayersClient::release(const std::string& container, Deadline deadline) {
  rpc_.callIdempotent(ipc::methods::imagesReleaseRootfs(), deadline,
                      [&](ipc::Images::ReleaseRootfsParams::Builder p) { p.setContainer(container); });
}

}  // namespace berth::bridge
