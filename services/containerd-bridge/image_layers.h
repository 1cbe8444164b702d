// What the containers core needs of the images service: an image's id and config, and a
// container's writable layer over it. The RPC client of the images service implements it in
// berth-containerd-bridge; unit tests implement it in memory.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/deadline.h"
#include "services/containerd-bridge/containerd.h"

namespace berth::bridge {

class ImageLayers {
 public:
  virtual ~ImageLayers() = default;
  struct Image {
    std::string id;         // "sha256:..."
    nlohmann::json config;  // the image config document
  };
  // notFound "No such image: REF" when unknown.
  virtual Image inspect(const std::string& ref, Deadline deadline) = 0;
  struct Prepared {
    Image image;
    std::vector<Mount> mounts;  // the container's root filesystem
  };
  // The container's writable layer over `image` (a reference or an id; made on the first call,
  // which pins the image), with the image's id and config: all a create needs of the images
  // service, in one call. notFound "No such image: REF" when unknown.
  virtual Prepared prepare(const std::string& container, const std::string& image, Deadline deadline) = 0;
  // Drops the container's layer and its pin on the image; no error when there is none.
  virtual void release(const std::string& container, Deadline deadline) = 0;
};

}  // namespace berth::bridge
