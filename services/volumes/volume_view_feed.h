// The volumes the API serves reads from (docs/ipc.md, "Volume views"). Every volume made or
// removed, and every change of which containers use volumes, takes the next number of this
// run's view sequence and is published on the views channel in that order; the volumeViews RPC answers a snapshot at a
// sequence and then marks the channel there, so a subscriber can join at any time without a gap. Every RPC reply and
// event of the service carries the sequence as it stood when it left (ipc/view_stamp.h).
#pragma once

#include <functional>
#include <string>
#include <zmq.hpp>

#include "ipc/schema/volumes.capnp.h"
#include "ipc/view_publisher.h"
#include "services/volumes/volumes_core.h"

namespace berth::volumes {

// A volume as the wire carries it; users only with `withUsers` (the views leave them out: they
// change with every container and no read the copy serves shows them).
void fillVolumeInfo(const VolumeView& v, ipc::VolumeInfo::Builder out, bool withUsers = true);

class VolumeViewFeed {
 public:
  // Binds the views channel at `endpoint` (an ipc:// path is replaced), observes the core's
  // changes and stamps this process's replies and events. Made before the service serves.
  VolumeViewFeed(zmq::context_t& context, std::string endpoint, VolumesCore& core);
  ~VolumeViewFeed();
  VolumeViewFeed(const VolumeViewFeed&) = delete;
  VolumeViewFeed& operator=(const VolumeViewFeed&) = delete;

  ipc::ViewStamp stamp() const { return channel_.stamp(); }
  // Answers Volumes.volumeViews, then publishes its mark.
  void snapshot(ipc::Volumes::VolumeViewsResults::Builder out);

 private:
  // Numbers a change of the volume table, makes it (`change`) and publishes the volume as it
  // is then (or its removal).
  void changing(const std::string& name, const std::function<void()>& change);
  // Numbers a change of the reference table, makes it and publishes the volumes it touched as
  // they are then (each with whether any container uses it).
  void changingUse(const VolumesCore::UseChange& change);

  const VolumesCore& core_;
  ipc::ViewPublisher<ipc::VolumeViewChange> channel_;  // its lock numbers and sends changes in order
};

}  // namespace berth::volumes
