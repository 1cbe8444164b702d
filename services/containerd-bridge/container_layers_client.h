// The images service as the containers core sees it for work on a container's writable layer
// (container_layers.h), over the images service's public client. Every call takes its caller's
// deadline; sizes and changes, which only read, retry while the images service restarts.
#pragma once

#include <string>

#include "services/containerd-bridge/container_layers.h"
#include "services/images/public/images_client.h"

namespace berth::bridge {

class ContainerLayersClient final : public ContainerLayers {
 public:
  ContainerLayersClient(zmq::context_t& context, const std::string& endpoint) : images_(context, endpoint) {}

  std::vector<Change> changes(const std::string& container, Deadline deadline) override;
  Download exportBegin(const std::string& container, Deadline deadline) override;
  std::string commit(const std::string& container, const Commit& commit, Deadline deadline) override;
  std::map<std::string, Size> sizes(const std::vector<std::string>& containers, Deadline deadline) override;

 private:
  images::ImagesClient images_;
};

}  // namespace berth::bridge
