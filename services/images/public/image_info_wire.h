// An image from its wire form (ipc/schema/images.capnp's ImageInfo), for the images service's
// client and read model. Private to this library: its callers never see Cap'n Proto.
#pragma once

#include "ipc/schema/images.capnp.h"
#include "services/images/public/images_client.h"

namespace berth::images {

ImageInfo imageInfoFromWire(ipc::ImageInfo::Reader in);

}  // namespace berth::images
