// A volume from its wire form (ipc/schema/volumes.capnp's VolumeInfo), for the volumes service's
// client and read model. Private to this library: its callers never see Cap'n Proto.
#pragma once

#include "ipc/schema/volumes.capnp.h"
#include "services/volumes/public/volumes_client.h"

namespace berth::volumes {

VolumeInfo volumeInfoFromWire(ipc::VolumeInfo::Reader in);

}  // namespace berth::volumes
