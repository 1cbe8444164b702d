// The images service as the containers core sees it for work on a container's writable layer
// (container_layers.h), over the images service's public client. Every call takes its caller's
// deadline; sizes and changes, which only read, retry while the images service restarts.
// A commit makes an image: the client keeps the image view stamps the service's replies carry,
// which the bridge's own replies and events carry on (ipc/view_stamp.h).
#pragma once

#include <string>

#include "ipc/rpc_client.h"
#include "ipc/view_stamp.h"
#include "services/containerd-bridge/container_layers.h"
#include "services/images/public/images_client.h"

namespace berth::bridge {

class ContainerLayersClient final : public ContainerLayers {
 public:
  ContainerLayersClient(zmq::context_t& context, const std::string& endpoint) : rpc_(context, endpoint), images_(rpc_) {
    rpc_.onViewStamp([this](ipc::ViewKind kind, ipc::ViewStamp stamp) {
      if (kind == ipc::ViewKind::images) imageViews_.observe(stamp);
    });
  }

  // The highest image view stamp the service's replies carried: a client shown a commit's
  // image id finds the image in the API's read model of images.
  ipc::ViewStamp imageViews() const { return imageViews_.current(); }

  std::vector<Change> changes(const std::string& container, Deadline deadline) override;
  Download exportBegin(const std::string& container, Deadline deadline) override;
  std::string commit(const std::string& container, const Commit& commit, Deadline deadline) override;
  std::map<std::string, Size> sizes(const std::vector<std::string>& containers, Deadline deadline) override;

 private:
  ipc::RpcClient rpc_;
  images::ImagesClient images_;
  ipc::ViewStampRelay imageViews_;
};

}  // namespace berth::bridge
