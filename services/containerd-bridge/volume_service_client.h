// The volumes service as the containers core sees it (volume_service.h), over the volumes
// service's public client. Calls that are safe to repeat retry while the service restarts, until
// the caller's deadline; create and remove fail `unavailable` at once.
#pragma once

#include <string>

#include "services/containerd-bridge/volume_service.h"
#include "services/volumes/public/volumes_client.h"

namespace berth::bridge {

class VolumeServiceClient final : public VolumeService {
 public:
  VolumeServiceClient(zmq::context_t& context, const std::string& endpoint) : volumes_(context, endpoint) {}

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
  volumes::VolumesClient volumes_;
};

}  // namespace berth::bridge
