#include "services/volumes/public/volumes_client.h"

#include "ipc/capnp_text.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "services/volumes/public/volume_info_wire.h"

namespace berth::volumes {

VolumeInfo volumeInfoFromWire(ipc::VolumeInfo::Reader in) {
  VolumeInfo out;
  out.name = in.getName();
  out.driver = in.getDriver();
  out.mountpoint = in.getMountpoint();
  out.createdAtNano = in.getCreatedAtNano();
  out.labels = ipc::keyValues(in.getLabels());
  out.options = ipc::keyValues(in.getOptions());
  out.anonymous = in.getAnonymous();
  out.users = ipc::texts(in.getUsers());
  out.sizeBytes = in.getSizeBytes();
  out.inUse = in.getInUse();
  return out;
}

VolumesClient::VolumesClient(ipc::RpcClient& rpc) : rpc_(rpc) {}

VolumesClient::VolumesClient(zmq::context_t& context, const std::string& endpoint)
    : owned_(std::make_unique<ipc::RpcClient>(context, endpoint)), rpc_(*owned_) {}

VolumesClient::~VolumesClient() = default;

uint32_t VolumesClient::summary(Deadline deadline) {
  return rpc_.callIdempotent(ipc::methods::volumesSummary(), deadline).get().getVolumes();
}

CreatedVolume VolumesClient::create(const VolumeCreate& request, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::volumesCreate(), deadline, [&](ipc::Volumes::CreateParams::Builder p) {
    p.setName(request.name);
    p.setDriver(request.driver);
    ipc::setKeyValues(p.initLabels(static_cast<unsigned>(request.labels.size())), request.labels);
    ipc::setKeyValues(p.initOptions(static_cast<unsigned>(request.options.size())), request.options);
    p.setAnonymous(request.anonymous);
  });
  return {volumeInfoFromWire(reply.get().getVolume()), reply.get().getCreated()};
}

VolumeInfo VolumesClient::inspect(const std::string& name, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::volumesInspect(), deadline,
                                   [&](ipc::Volumes::InspectParams::Builder p) { p.setName(name); });
  return volumeInfoFromWire(reply.get().getVolume());
}

std::vector<VolumeInfo> VolumesClient::list(const std::string& filtersJson, bool withSizes, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::volumesList(), deadline, [&](ipc::Volumes::ListParams::Builder p) {
    p.setFilters(ipc::bytes(filtersJson));
    p.setWithSizes(withSizes);
  });
  std::vector<VolumeInfo> out;
  for (auto v : reply.get().getVolumes()) out.push_back(volumeInfoFromWire(v));
  return out;
}

void VolumesClient::remove(const std::string& name, bool force, Deadline deadline) {
  rpc_.call(ipc::methods::volumesRemove(), deadline, [&](ipc::Volumes::RemoveParams::Builder p) {
    p.setName(name);
    p.setForce(force);
  });
}

VolumesPruned VolumesClient::prune(const std::string& filtersJson, bool all, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::volumesPrune(), deadline, [&](ipc::Volumes::PruneParams::Builder p) {
    p.setFilters(ipc::bytes(filtersJson));
    p.setAll(all);
  });
  return {ipc::texts(reply.get().getRemoved()), reply.get().getReclaimedBytes()};
}

void VolumesClient::reference(const std::string& container, const std::vector<std::string>& volumes, Deadline deadline) {
  rpc_.callIdempotent(ipc::methods::volumesReference(), deadline, [&](ipc::Volumes::ReferenceParams::Builder p) {
    p.setContainer(container);
    ipc::setTexts(p.initVolumes(static_cast<unsigned>(volumes.size())), volumes);
  });
}

void VolumesClient::release(const std::string& container, Deadline deadline) {
  rpc_.callIdempotent(ipc::methods::volumesRelease(), deadline,
                      [&](ipc::Volumes::ReleaseParams::Builder p) { p.setContainer(container); });
}

std::string VolumesClient::mount(const std::string& container, const std::string& name, const std::string& destination,
                                 bool readWrite, const std::string& copyFrom, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::volumesMount(), deadline, [&](ipc::Volumes::MountParams::Builder p) {
    p.setContainer(container);
    p.setName(name);
    p.setDestination(destination);
    p.setReadWrite(readWrite);
    p.setCopyFrom(copyFrom);
  });
  return reply.get().getPath();
}

void VolumesClient::populate(const std::string& container, const std::string& name, const std::string& copyFrom,
                             Deadline deadline) {
  rpc_.callIdempotent(ipc::methods::volumesPopulate(), deadline, [&](ipc::Volumes::PopulateParams::Builder p) {
    p.setContainer(container);
    p.setName(name);
    p.setCopyFrom(copyFrom);
  });
}

void VolumesClient::unmount(const std::string& container, const std::string& name, Deadline deadline) {
  rpc_.callIdempotent(ipc::methods::volumesUnmount(), deadline, [&](ipc::Volumes::UnmountParams::Builder p) {
    p.setContainer(container);
    p.setName(name);
  });
}

void VolumesClient::reconcile(const std::vector<ContainerVolumes>& containers, Deadline deadline) {
  rpc_.callIdempotent(ipc::methods::volumesReconcile(), deadline, [&](ipc::Volumes::ReconcileParams::Builder p) {
    auto out = p.initContainers(static_cast<unsigned>(containers.size()));
    for (size_t i = 0; i < containers.size(); ++i) {
      auto c = out[static_cast<unsigned>(i)];
      c.setContainer(containers[i].container);
      ipc::setTexts(c.initVolumes(static_cast<unsigned>(containers[i].volumes.size())), containers[i].volumes);
      ipc::setTexts(c.initMounted(static_cast<unsigned>(containers[i].mounted.size())), containers[i].mounted);
    }
  });
}

}  // namespace berth::volumes
