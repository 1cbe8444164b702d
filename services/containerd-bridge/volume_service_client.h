// The volumes service as the containers core sees it (volume_service.h), over the volumes
// service's public client. Calls that are safe to repeat retry while the service restarts, until
// the caller's deadline; create and remove fail `unavailable` at once.
#pragma once

#include <string>

#include "ipc/rpc_client.h"
#include "ipc/view_stamp.h"
#include "services/containerd-bridge/volume_service.h"
#include "services/volumes/public/volumes_client.h"

namespace berth::bridge {

class VolumeServiceClient final : public VolumeService {
 public:
  VolumeServiceClient(zmq::context_t& context, const std::string& endpoint) : rpc_(context, endpoint), volumes_(rpc_) {
    rpc_.onViewStamp([this](ipc::ViewKind kind, ipc::ViewStamp stamp) {
      if (kind == ipc::ViewKind::volumes) volumeViews_.observe(stamp);
    });
  }

  // The highest volume view stamp the service's replies carried: the bridge's own replies and
  // events carry it on (ipc/view_stamp.h), so a client shown a container's create or removal
  // also finds the anonymous volumes it made or removed in the API's read model of volumes.
  ipc::ViewStamp volumeViews() const { return volumeViews_.current(); }

  Volume create(const Request& request, Deadline deadline) override;
  void reference(const std::string& container, const std::vector<std::string>& names, Deadline deadline) override;
  void release(const std::string& container, Deadline deadline) override;
  void populate(const std::string& container, const std::string& name, const std::string& copyFrom,
                Deadline deadline) override;
  std::string mount(const std::string& container, const std::string& name, const std::string& destination,
                    bool readWrite, Deadline deadline) override;
  void unmount(const std::string& container, const std::string& name, Deadline deadline) override;
  void remove(const std::string& name, Deadline deadline) override;
  void reconcile(const std::vector<Usage>& usage, Deadline deadline) override;

 private:
  ipc::RpcClient rpc_;
  volumes::VolumesClient volumes_;
  ipc::ViewStampRelay volumeViews_;
};

}  // namespace berth::bridge
