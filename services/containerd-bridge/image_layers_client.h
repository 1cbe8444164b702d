// The images service as the containers core sees it (image_layers.h), over its RPC endpoint.
// Every call takes its caller's deadline and retries while the images service restarts.
#pragma once

#include <string>
#include <zmq.hpp>

#include "ipc/rpc_client.h"
#include "services/containerd-bridge/image_layers.h"

namespace berth::bridge {

class ImageLayersClient final : public ImageLayers {
 public:
  ImageLayersClient(zmq::context_t& context, const std::string& endpoint) : rpc_(context, endpoint) {}

  Image inspect(const std::string& ref, Deadline deadline) override;
  std::vector<Mount> prepare(const std::string& container, const std::string& imageId, Deadline deadline) override;
  void release(const std::string& container, Deadline deadline) override;

 private:
  ipc::RpcClient rpc_;
};

}  // namespace berth::bridge
