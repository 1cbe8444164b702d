#include "services/volumes/volume_view_feed.h"

#include <algorithm>
#include <exception>
#include <vector>

#include "ipc/capnp_text.h"

namespace berth::volumes {

void fillVolumeInfo(const VolumeView& v, ipc::VolumeInfo::Builder out, bool withUsers) {
  out.setName(v.record.name);
  out.setDriver(v.record.driver);
  out.setMountpoint(v.mountpoint);
  out.setCreatedAtNano(v.record.createdAtNano);
  ipc::setKeyValues(out.initLabels(static_cast<unsigned>(v.record.labels.size())), v.record.labels);
  ipc::setKeyValues(out.initOptions(static_cast<unsigned>(v.record.options.size())), v.record.options);
  out.setAnonymous(v.anonymous);
  if (withUsers) ipc::setTexts(out.initUsers(static_cast<unsigned>(v.users.size())), v.users);
  out.setSizeBytes(v.sizeBytes);
  out.setInUse(v.inUse);
}

VolumeViewFeed::VolumeViewFeed(zmq::context_t& context, std::string endpoint, VolumesCore& core)
    : core_(core), channel_(context, std::move(endpoint), ipc::ViewKind::volumes) {
  core.onChange([this](const std::string& name, const std::function<void()>& change) { changing(name, change); });
  core.onUseChange([this](const VolumesCore::UseChange& change) { changingUse(change); });
}

VolumeViewFeed::~VolumeViewFeed() = default;

void VolumeViewFeed::changing(const std::string& name, const std::function<void()>& change) {
  auto lock = channel_.lock();
  // The number is taken before the change is made: a reply that shows the change (another
  // thread may read the table at once) is stamped after it and so covers it, and a reader
  // holding that stamp waits for the change, which follows.
  uint64_t seq = channel_.numberLocked();
  std::exception_ptr refused;
  try {
    change();
  } catch (...) {
    refused = std::current_exception();  // the number is spent: published with the state unchanged
  }
  // The volume as it is now, read under the lock that numbers changes: whichever of two
  // changes is told last, the last one published is the current state.
  auto view = core_.find(name);
  channel_.sendLocked(seq, [&](ipc::VolumeViewChange::Builder c) {
    if (view) fillVolumeInfo(*view, c.initVolume(), false);
    else c.setRemovedName(name);
  });
  if (refused) std::rethrow_exception(refused);
}

void VolumeViewFeed::changingUse(const VolumesCore::UseChange& change) {
  auto lock = channel_.lock();
  uint64_t seq = channel_.numberLocked();  // before the change, as in changing()
  std::vector<VolumeView> views;
  std::exception_ptr refused;
  try {
    auto touched = change();
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (const auto& name : touched) {
      if (auto view = core_.find(name)) views.push_back(std::move(*view));
    }
  } catch (...) {
    // Refused, or failed part way (the table is written a container at a time): the number is
    // spent on every volume as it is now, so the copy is exact whatever was changed.
    refused = std::current_exception();
    views = core_.all();
  }
  channel_.sendLocked(seq, [&](ipc::VolumeViewChange::Builder c) {
    auto used = c.initUsed(static_cast<unsigned>(views.size()));
    for (size_t i = 0; i < views.size(); ++i) fillVolumeInfo(views[i], used[static_cast<unsigned>(i)], false);
  });
  if (refused) std::rethrow_exception(refused);
}

void VolumeViewFeed::snapshot(ipc::Volumes::VolumeViewsResults::Builder out) {
  auto lock = channel_.lock();
  uint64_t at = channel_.sequenceLocked();
  auto all = core_.all();
  out.setEpoch(channel_.epoch());
  out.setSeq(at);
  auto list = out.initVolumes(static_cast<unsigned>(all.size()));
  for (size_t i = 0; i < all.size(); ++i) fillVolumeInfo(all[i], list[static_cast<unsigned>(i)], false);
  channel_.markLocked(at);
}

}  // namespace berth::volumes
