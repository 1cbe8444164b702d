// The images service as the containers core sees it (image_layers.h), over the images
// service's public client. Every call takes its caller's deadline and retries while the images
// service restarts.
#pragma once

#include <string>

#include "services/containerd-bridge/image_layers.h"
#include "services/images/public/images_client.h"

namespace berth::bridge {

class ImageLayersClient final : public ImageLayers {
 public:
  ImageLayersClient(zmq::context_t& context, const std::string& endpoint) : images_(context, endpoint) {}

  Image inspect(const std::string& ref, Deadline deadline) override;
  Prepared prepare(const std::string& container, const std::string& image, Deadline deadline) override;
  void release(const std::string& container, Deadline deadline) override;

 private:
  images::ImagesClient images_;
};

}  // namespace berth::bridge
