#include "services/volumes/public/volume_read_model.h"

#include <chrono>
#include <map>
#include <memory>
#include <vector>

#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "ipc/schema/volumes.capnp.h"
#include "ipc/view_copy.h"
#include "services/volumes/public/volume_filter.h"
#include "services/volumes/public/volume_info_wire.h"

namespace berth::volumes {

using namespace std::chrono_literals;

struct VolumeReadModel::Volumes {
  std::map<std::string, std::shared_ptr<const VolumeInfo>> byName;

  void put(ipc::VolumeInfo::Reader v) {
    auto info = std::make_shared<VolumeInfo>(volumeInfoFromWire(v));
    std::string name = info->name;
    byName[name] = std::move(info);
  }
  void apply(ipc::VolumeViewChange::Reader c) {
    if (c.hasVolume())
      put(c.getVolume());
    else if (c.hasRemovedName())
      byName.erase(std::string(c.getRemovedName()));
    for (auto v : c.getUsed()) put(v);
  }
};

VolumeReadModel::VolumeReadModel(zmq::context_t& context, std::string viewsEndpoint, ipc::RpcClient& volumes) {
  auto fetch = [&volumes] {
    auto reply = volumes.call(ipc::methods::volumesVolumeViews(), deadlineIn(2s));
    auto r = reply.get();
    ipc::ViewCopy<Volumes, ipc::VolumeViewChange>::Snapshot snapshot;
    for (auto v : r.getVolumes()) snapshot.state.put(v);
    snapshot.epoch = r.getEpoch();
    snapshot.seq = r.getSeq();
    return snapshot;
  };
  copy_ = std::make_unique<ipc::ViewCopy<Volumes, ipc::VolumeViewChange>>(context, std::move(viewsEndpoint),
                                                                           "volumes read model", fetch);
}

VolumeReadModel::~VolumeReadModel() = default;

void VolumeReadModel::require(ipc::ViewStamp stamp) { copy_->require(stamp); }
void VolumeReadModel::requireRunAfter(uint64_t sentAt) { copy_->requireRunAfter(sentAt); }

ipc::ViewCopyCounts VolumeReadModel::counts() const { return copy_->counts(); }

std::optional<VolumeInfo> VolumeReadModel::inspect(const std::string& name) {
  std::optional<VolumeInfo> out;
  copy_->read([&](const Volumes& volumes) {
    auto it = volumes.byName.find(name);
    if (it == volumes.byName.end()) return false;  // the service says "no such volume"
    out = *it->second;
    return true;
  });
  return out;
}

std::optional<std::vector<std::shared_ptr<const VolumeInfo>>> VolumeReadModel::list(const std::string& filtersText) {
  VolumeListFilter filter(filtersText);  // refused filters before any wait
  std::optional<std::vector<std::shared_ptr<const VolumeInfo>>> out;
  copy_->read([&](const Volumes& volumes) {
    out.emplace();
    out->reserve(volumes.byName.size());
    for (const auto& [name, info] : volumes.byName) out->push_back(info);
    return true;
  });
  // Filtered outside the copy's lock, which every read and every change takes: a request's
  // name patterns are regular expressions of the client's.
  if (out) {
    std::erase_if(*out, [&](const auto& v) {
      return !filter.matches(v->name, v->driver, v->labels) || !filter.matchesUse(!v->inUse);
    });
  }
  return out;
}

}  // namespace berth::volumes
