// The API's read model of images (docs/ipc.md, "Image views"): a copy of the images service's
// images, kept current from its views channel (ipc/view_copy.h), that answers
// GET /images/{name}/json, GET /images/{name}/history and GET /images/json without an RPC.
//
// It answers only what is never older than anything a client was shown: every image view stamp
// a reply or event carried (the images service's, and the containerd-bridge's, which passes on
// those of the images it commits) must be reached first. Names resolve as the service resolves
// them (common/image_reference.h's resolveImage, over the same images and references). A name
// that resolves to nothing, or that the service would refuse (malformed, an ambiguous prefix),
// is declined, so the service answers it with its own error.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipc/view_stamp.h"
#include "services/images/public/images_client.h"

namespace zmq {
class context_t;
}

namespace berth::ipc {
class RpcClient;
struct ImageViewChange;
template <typename State, typename Change>
class ViewCopy;
}  // namespace berth::ipc

namespace berth::images {

class ImageReadModel {
 public:
  // Subscribes to `viewsEndpoint` and takes snapshots through `images`, on a thread of its own.
  // The caller hands it every image view stamp a reply or event carried (require()).
  ImageReadModel(zmq::context_t& context, std::string viewsEndpoint, ipc::RpcClient& images);
  ~ImageReadModel();
  ImageReadModel(const ImageReadModel&) = delete;
  ImageReadModel& operator=(const ImageReadModel&) = delete;

  void require(ipc::ViewStamp stamp);
  // A call to the service went away after its request left at `sentAt` (ipc::ViewCopy::requireRunAfter).
  void requireRunAfter(uint64_t sentAt);
  // The image `ref` names (an id, an id prefix, name[:tag], name@digest), or null: ask the
  // service.
  std::shared_ptr<const ImageInfo> inspect(const std::string& ref);
  // Every image, by id, or nullopt: ask the service.
  std::optional<std::vector<std::shared_ptr<const ImageInfo>>> list();

  ipc::ViewCopyCounts counts() const;

  struct Images;  // by id, and the references (image_read_model.cc)

 private:
  std::unique_ptr<ipc::ViewCopy<Images, ipc::ImageViewChange>> copy_;
};

}  // namespace berth::images
