#include "services/images/public/image_read_model.h"

#include <chrono>
#include <map>

#include "common/errors.h"
#include "common/image_reference.h"
#include "ipc/capnp_text.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "ipc/schema/images.capnp.h"
#include "ipc/view_copy.h"
#include "services/images/public/image_info_wire.h"

namespace berth::images {

using namespace std::chrono_literals;

struct ImageReadModel::Images {
  std::map<std::string, std::shared_ptr<const ImageInfo>> byId;
  std::map<std::string, std::string> references;  // familiar reference -> image id, as the service's

  // The image as it is now, in place of what was held of it.
  void put(std::shared_ptr<const ImageInfo> image) {
    drop(image->id);
    for (const auto* refs : {&image->repoTags, &image->repoDigests}) {
      for (const auto& ref : *refs) references[ref] = image->id;
    }
    std::string id = image->id;
    byId[id] = std::move(image);
  }
  void drop(const std::string& id) {
    auto it = byId.find(id);
    if (it == byId.end()) return;
    // A reference the same change already gave another image (a tag moved) stays that image's.
    for (const auto* refs : {&it->second->repoTags, &it->second->repoDigests}) {
      for (const auto& ref : *refs) {
        if (auto r = references.find(ref); r != references.end() && r->second == id) references.erase(r);
      }
    }
    byId.erase(it);
  }

  void apply(ipc::ImageViewChange::Reader c) {
    for (auto id : c.getRemovedIds()) drop(id);
    for (auto image : c.getImages()) put(std::make_shared<ImageInfo>(imageInfoFromWire(image)));
  }
};

ImageReadModel::ImageReadModel(zmq::context_t& context, std::string viewsEndpoint, ipc::RpcClient& images) {
  auto fetch = [&images] {
    auto reply = images.call(ipc::methods::imagesImageViews(), deadlineIn(2s));
    auto r = reply.get();
    ipc::ViewCopy<Images, ipc::ImageViewChange>::Snapshot snapshot;
    for (auto image : r.getImages()) snapshot.state.put(std::make_shared<ImageInfo>(imageInfoFromWire(image)));
    snapshot.epoch = r.getEpoch();
    snapshot.seq = r.getSeq();
    return snapshot;
  };
  copy_ = std::make_unique<ipc::ViewCopy<Images, ipc::ImageViewChange>>(context, std::move(viewsEndpoint),
                                                                        "images read model", fetch);
}

ImageReadModel::~ImageReadModel() = default;

void ImageReadModel::require(ipc::ViewStamp stamp) { copy_->require(stamp); }
void ImageReadModel::requireRunAfter(uint64_t sentAt) { copy_->requireRunAfter(sentAt); }

ipc::ViewCopyCounts ImageReadModel::counts() const { return copy_->counts(); }

std::shared_ptr<const ImageInfo> ImageReadModel::inspect(const std::string& ref) {
  std::shared_ptr<const ImageInfo> out;
  copy_->read([&](const Images& images) {
    try {
      auto it = images.byId.find(resolveImage(ref, images.byId, images.references));
      if (it != images.byId.end()) out = it->second;
    } catch (const Error&) {
      // No such image, or a name the service refuses: the service answers with its own error.
    }
    return out != nullptr;
  });
  return out;
}

std::optional<std::vector<std::shared_ptr<const ImageInfo>>> ImageReadModel::list() {
  std::optional<std::vector<std::shared_ptr<const ImageInfo>>> out;
  copy_->read([&](const Images& images) {
    out.emplace();
    out->reserve(images.byId.size());
    for (const auto& [id, image] : images.byId) out->push_back(image);
    return true;
  });
  return out;
}

}  // namespace berth::images
