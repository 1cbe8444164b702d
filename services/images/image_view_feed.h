// The images the API serves reads from (docs/ipc.md, "Image views"). Every change of the
// store's images (made, tagged, untagged, pushed, deleted) takes the next number of this run's
// view sequence and is published on the views channel in that order, with the images it
// touched as they are now; the imageViews RPC answers a snapshot at a sequence and then marks
// the channel there, so a subscriber can join at any time without a gap. Every RPC reply and
// event of the service carries the sequence as it stood when it left (ipc/view_stamp.h).
#pragma once

#include <string>
#include <zmq.hpp>

#include "ipc/schema/images.capnp.h"
#include "ipc/view_publisher.h"
#include "services/images/image_store.h"

namespace berth::images {

// An image as the wire carries it (list, inspect, the views).
void fillImageInfo(const ImageView& v, ipc::ImageInfo::Builder out);

class ImageViewFeed {
 public:
  // Binds the views channel at `endpoint` (an ipc:// path is replaced), observes the store's
  // changes and stamps this process's replies and events. Made before the service serves.
  ImageViewFeed(zmq::context_t& context, std::string endpoint, ImageStore& store);
  ~ImageViewFeed();
  ImageViewFeed(const ImageViewFeed&) = delete;
  ImageViewFeed& operator=(const ImageViewFeed&) = delete;

  ipc::ViewStamp stamp() const { return channel_.stamp(); }
  // Answers Images.imageViews, then publishes its mark.
  void snapshot(ipc::Images::ImageViewsResults::Builder out);

 private:
  ImageStore& store_;
  // Numbers and sends changes in order; the store tells them under its own lock, taken first.
  ipc::ViewPublisher<ipc::ImageViewChange> channel_;
};

}  // namespace berth::images
