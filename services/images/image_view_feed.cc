#include "services/images/image_view_feed.h"

#include <spdlog/spdlog.h>

#include "ipc/capnp_text.h"

namespace berth::images {

void fillImageInfo(const ImageView& v, ipc::ImageInfo::Builder out) {
  out.setId(v.id);
  ipc::setTexts(out.initRepoTags(static_cast<unsigned>(v.repoTags.size())), v.repoTags);
  ipc::setTexts(out.initRepoDigests(static_cast<unsigned>(v.repoDigests.size())), v.repoDigests);
  out.setConfig(ipc::bytes(v.configJson));
  ipc::setTexts(out.initDiffIds(static_cast<unsigned>(v.diffIds.size())), v.diffIds);
  ipc::setTexts(out.initLayerDirs(static_cast<unsigned>(v.layerDirs.size())), v.layerDirs);
  auto sizes = out.initLayerSizes(static_cast<unsigned>(v.layerSizes.size()));
  for (size_t i = 0; i < v.layerSizes.size(); ++i) sizes.set(static_cast<unsigned>(i), v.layerSizes[i]);
  out.setSize(v.size);
  out.setLoadedAtNano(v.loadedAtNano);
  out.setLastTagTimeNano(v.lastTagTimeNano);
}

ImageViewFeed::ImageViewFeed(zmq::context_t& context, std::string endpoint, ImageStore& store)
    : store_(store), channel_(context, std::move(endpoint), ipc::ViewKind::images) {
  // Told under the store's lock, once the change is made: no reader of the store sees it
  // before the lock is released, and by then its number is taken, so every reply that shows
  // it is stamped with a sequence that covers it.
  store.onChange([this](const std::set<std::string>& ids, const ImageStore::ViewOf& viewOf) {
    auto lock = channel_.lock();
    // The number is spent whatever follows: a change that cannot be rendered or sent (out of
    // memory) leaves a gap, and the copy takes a snapshot instead of missing it.
    uint64_t seq = channel_.numberLocked();
    try {
      std::vector<ImageView> changed;
      std::vector<std::string> removed;
      for (const auto& id : ids) {
        if (auto view = viewOf(id)) changed.push_back(std::move(*view));
        else removed.push_back(id);
      }
      channel_.sendLocked(seq, [&](ipc::ImageViewChange::Builder c) {
        auto images = c.initImages(static_cast<unsigned>(changed.size()));
        for (size_t i = 0; i < changed.size(); ++i) fillImageInfo(changed[i], images[static_cast<unsigned>(i)]);
        ipc::setTexts(c.initRemovedIds(static_cast<unsigned>(removed.size())), removed);
      });
    } catch (...) {
      spdlog::error("images: change {} of the views could not be sent; the API's copy takes a snapshot", seq);
    }
  });
}

ImageViewFeed::~ImageViewFeed() { store_.onChange({}); }

void ImageViewFeed::snapshot(ipc::Images::ImageViewsResults::Builder out) {
  store_.withAll([&](const std::vector<ImageView>& all) {
    auto lock = channel_.lock();
    uint64_t at = channel_.sequenceLocked();
    out.setEpoch(channel_.epoch());
    out.setSeq(at);
    auto list = out.initImages(static_cast<unsigned>(all.size()));
    for (size_t i = 0; i < all.size(); ++i) fillImageInfo(all[i], list[static_cast<unsigned>(i)]);
    channel_.markLocked(at);
  });
}

}  // namespace berth::images
