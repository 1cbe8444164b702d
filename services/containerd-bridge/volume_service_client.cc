#include "services/containerd-bridge/volume_service_client.h"

namespace berth::bridge {

VolumeService::Volume VolumeServiceClient::create(const Request& request, Deadline deadline) {
  volumes::VolumeCreate create{request.name, request.driver, request.labels, request.options, request.anonymous};
  auto made = volumes_.create(create, deadline);
  return {made.volume.name, made.volume.mountpoint};
}

void VolumeServiceClient::reference(const std::string& container, const std::vector<std::string>& names,
                                    Deadline deadline) {
  volumes_.reference(container, names, deadline);
}

void VolumeServiceClient::release(const std::string& container, Deadline deadline) {
  volumes_.release(container, deadline);
}

void VolumeServiceClient::populate(const std::string& container, const std::string& name, const std::string& copyFrom,
                                   Deadline deadline) {
  volumes_.populate(container, name, copyFrom, deadline);
}

std::string VolumeServiceClient::mount(const std::string& container, const std::string& name,
                                       const std::string& destination, bool readWrite, Deadline deadline) {
  return volumes_.mount(container, name, destination, readWrite, "", deadline);
}

void VolumeServiceClient::unmount(const std::string& container, const std::string& name, Deadline deadline) {
  volumes_.unmount(container, name, deadline);
}

void VolumeServiceClient::remove(const std::string& name, Deadline deadline) { volumes_.remove(name, false, deadline); }

void VolumeServiceClient::reconcile(const std::vector<Usage>& usage, Deadline deadline) {
  std::vector<volumes::ContainerVolumes> containers;
  containers.reserve(usage.size());
  for (const auto& u : usage) containers.push_back({u.container, u.volumes, u.mounted});
  volumes_.reconcile(containers, deadline);
}

}  // namespace berth::bridge
