#include "services/volumes/volumes_core.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <set>

#include "common/errors.h"
#include "common/time_format.h"
#include "services/volumes/copy_up.h"
#include "services/volumes/directory_tree.h"
#include "services/volumes/public/volume_filter.h"
#include "common/docker_filters.h"
#include "services/volumes/volume_names.h"

namespace berth::volumes {

// One mutex per volume name, made on demand and dropped when no one waits on it (moby's locker).
class VolumesCore::VolumeLocks {
  struct Entry {
    std::mutex mutex;
    int users = 0;
  };

 public:
  class Guard {
   public:
    Guard(VolumeLocks& locks, std::string name) : locks_(locks), name_(std::move(name)) {
      {
        std::lock_guard lock(locks_.mutex_);
        auto& entry = locks_.entries_[name_];
        if (!entry) entry = std::make_unique<Entry>();
        ++entry->users;
        entry_ = entry.get();
      }
      entry_->mutex.lock();
    }
    ~Guard() {
      entry_->mutex.unlock();
      std::lock_guard lock(locks_.mutex_);
      if (--entry_->users == 0) locks_.entries_.erase(name_);
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    VolumeLocks& locks_;
    std::string name_;
    Entry* entry_ = nullptr;
  };

  Guard lock(const std::string& name) { return Guard(*this, name); }

 private:
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;
};

namespace {

Error noSuchVolume(const std::string& name) { return Error(ErrorKind::notFound, "get " + name + ": no such volume"); }

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

}  // namespace

VolumesCore::VolumesCore(std::string root, Mounter& mounter, EventSink events)
    : store_(root), driver_(mounter), events_(std::move(events)), locks_(std::make_unique<VolumeLocks>()),
      refs_(root + "/.references") {
  for (auto& record : store_.loadAll()) volumes_.emplace(record.name, std::move(record));
  // References to volumes that are gone (a store edited by hand) would block a new volume of
  // the same name forever.
  auto table = refs_.all();
  for (auto& [container, use] : table) {
    std::erase_if(use.volumes, [&](const std::string& v) { return !volumes_.count(v); });
    std::erase_if(use.mounted, [&](const std::string& v) { return !volumes_.count(v); });
  }
  refs_.replaceAll(table);
  // A device left mounted that no container holds (a crash between a mount and its record):
  // dockerd unmounts every device at its start; berth keeps the ones running containers hold.
  for (const auto& [name, record] : volumes_) {
    if (!LocalDriver::needsMount(record.options)) continue;
    try {
      unmountIfUnheld(name);
    } catch (const Error& e) {
      spdlog::warn("volumes: could not unmount {}: {}", name, e.what());
    }
  }
  spdlog::info("volumes: {} volumes, {} containers referencing them", volumes_.size(), refs_.all().size());
}

VolumesCore::~VolumesCore() = default;

uint32_t VolumesCore::count() const {
  std::lock_guard lock(mutex_);
  return static_cast<uint32_t>(volumes_.size());
}

std::optional<VolumeView> VolumesCore::find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = volumes_.find(name);
  if (it == volumes_.end()) return std::nullopt;
  return viewOf(it->second, false);
}

std::vector<VolumeView> VolumesCore::all() const {
  std::lock_guard lock(mutex_);
  std::vector<VolumeView> out;
  out.reserve(volumes_.size());
  auto used = refs_.used();
  for (const auto& [name, record] : volumes_) {
    out.push_back(viewOf(record, false, false));
    out.back().inUse = used.count(name) > 0;
  }
  return out;
}

VolumeView VolumesCore::viewOf(const VolumeRecord& record, bool withUsers, bool withUse) const {
  VolumeView v;
  v.record = record;
  v.mountpoint = store_.dataPath(record.name);
  v.anonymous = record.labels.count(kAnonymousLabel) > 0;
  if (withUsers) {
    v.users = refs_.users(record.name);
    v.inUse = !v.users.empty();
  } else if (withUse) {
    v.inUse = !refs_.users(record.name).empty();
  }
  return v;
}

void VolumesCore::changeTable(const std::string& name, const std::function<void()>& change) {
  if (changed_) changed_(name, change);
  else change();
}

void VolumesCore::changeUse(const UseChange& change) {
  if (useChanged_)
    useChanged_(change);
  else
    change();
}

std::pair<VolumeView, bool> VolumesCore::create(const CreateRequest& request) {
  std::string name = request.name.empty() ? randomVolumeName() : request.name;
  if (!request.driver.empty() && request.driver != "local") {
    throw Error(ErrorKind::notFound, "create " + name + ": error looking up volume plugin " + request.driver +
                                         ": plugin " + goQuote(request.driver) + " not found");
  }
  auto guard = locks_->lock(name);
  {
    std::lock_guard lock(mutex_);
    // An existing volume is returned as it is, whatever labels and options were asked (moby).
    if (auto it = volumes_.find(name); it != volumes_.end()) return {viewOf(it->second), false};
  }
  VolumeRecord record;
  record.name = name;
  record.labels = request.labels;
  if (request.anonymous) record.labels[kAnonymousLabel] = "";
  record.options = request.options;
  record.createdAtNano = nowUnixNanos();
  try {
    validateVolumeName(name);
    LocalDriver::validate(request.options);
    store_.create(record);
  } catch (const Error& e) {
    throw Error(e.kind(), "create " + name + ": " + e.what());
  }
  VolumeView view;
  changeTable(name, [&] {
    std::lock_guard lock(mutex_);
    volumes_[name] = record;
    view = viewOf(record);
  });
  events_("create", name, {{"driver", "local"}});
  return {view, true};
}

VolumeView VolumesCore::inspect(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = volumes_.find(name);
  if (it == volumes_.end()) throw noSuchVolume(name);
  return viewOf(it->second);
}

std::vector<VolumeView> VolumesCore::list(const std::string& filtersJson, bool withSizes) const {
  VolumeListFilter filter(filtersJson);
  std::vector<VolumeView> out;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, record] : volumes_) {
      if (!filter.matches(name, record.driver, record.labels)) continue;
      VolumeView v = viewOf(record);
      if (!filter.matchesUse(v.users.empty())) continue;
      out.push_back(std::move(v));
    }
  }
  if (withSizes) {
    // Outside the lock: a walk can take long. A volume removed meanwhile reports -1.
    for (auto& v : out) {
      try {
        v.sizeBytes = treeSize(v.mountpoint);
      } catch (const Error& e) {
        spdlog::warn("volumes: could not measure {}: {}", v.record.name, e.what());
      }
    }
  }
  return out;
}

void VolumesCore::remove(const std::string& name, bool force) {
  auto guard = locks_->lock(name);
  removeLocked(name, force);
}

void VolumesCore::removeLocked(const std::string& name, bool force) {
  VolumeRecord record;
  {
    std::lock_guard lock(mutex_);
    auto it = volumes_.find(name);
    if (it == volumes_.end()) {
      if (force) return;
      throw noSuchVolume(name);
    }
  }
  changeTable(name, [&] {
    std::lock_guard lock(mutex_);
    auto it = volumes_.find(name);
    if (it == volumes_.end()) throw noSuchVolume(name);  // cannot happen: the volume's lock is held
    // In use whether its containers run or not; force does not override it (moby).
    if (auto users = refs_.users(name); !users.empty()) {
      throw Error(ErrorKind::conflict, "remove " + name + ": volume is in use - [" + joined(users) + "]");
    }
    // Out of the table first, so no reference can be taken on a volume being deleted; readers
    // see it gone from now on.
    record = it->second;
    volumes_.erase(it);
  });
  try {
    std::string path = store_.dataPath(name);
    if (LocalDriver::needsMount(record.options) && driver_.mounted(path)) driver_.unmount(path);
    store_.remove(name);
  } catch (const Error& e) {
    changeTable(name, [&] {
      std::lock_guard lock(mutex_);
      volumes_[name] = record;
    });
    throw Error(e.kind(), "remove " + name + ": " + e.what());
  }
  events_("destroy", name, {{"driver", record.driver}});
}

PruneResult VolumesCore::prune(const std::string& filtersJson, bool all) {
  if (pruning_.exchange(true)) throw Error(ErrorKind::conflict, "a prune operation is already running");
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag = false; }
  } done{pruning_};

  auto filters = DockerFilters::parse(filtersJson, {"label", "label!", "all"});
  bool everything = all;
  if (filters.contains("all")) {
    const auto& values = filters.values("all");
    if (values.size() > 1) throw Error(ErrorKind::invalid, invalidFilterValue("all", values));
    if (values.size() == 1) {
      auto b = parseGoBool(*values.begin());
      if (!b) throw Error(ErrorKind::invalid, invalidFilterValue("all", values));
      everything = everything || *b;
    }
  }
  // API 1.42: without all, only anonymous volumes (moby adds the anonymous label to the filter).
  if (!everything) filters.add("label", kAnonymousLabel);

  std::vector<std::string> candidates;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, record] : volumes_) {
      // moby skips volumes with options: a device's space is not reclaimed by a removal.
      if (record.driver != "local" || !record.options.empty()) continue;
      if (!refs_.users(name).empty()) continue;
      if (!filters.matchLabels(record.labels)) continue;
      candidates.push_back(name);
    }
  }
  PruneResult result;
  for (const auto& name : candidates) {
    auto guard = locks_->lock(name);
    int64_t size = 0;
    try {
      size = treeSize(store_.dataPath(name));
    } catch (const Error& e) {
      spdlog::warn("volumes: could not determine the size of {}: {}", name, e.what());
    }
    try {
      removeLocked(name, false);
    } catch (const Error& e) {
      // Taken into use or removed since the list: not pruned, as moby.
      spdlog::info("volumes: prune skips {}: {}", name, e.what());
      continue;
    }
    result.removed.push_back(name);
    result.reclaimedBytes += static_cast<uint64_t>(size);
  }
  events_("prune", "", {{"reclaimed", std::to_string(result.reclaimedBytes)}});
  return result;
}

void VolumesCore::reference(const std::string& container, const std::vector<std::string>& volumes) {
  validateContainerId(container);
  changeUse([&] {
    std::lock_guard lock(mutex_);
    for (const auto& v : volumes) {
      if (!volumes_.count(v)) throw noSuchVolume(v);
    }
    auto use = refs_.of(container);
    std::vector<std::string> touched(use.volumes.begin(), use.volumes.end());
    touched.insert(touched.end(), volumes.begin(), volumes.end());
    use.volumes = std::set<std::string>(volumes.begin(), volumes.end());
    refs_.set(container, use);
    return touched;
  });
}

void VolumesCore::release(const std::string& container) {
  validateContainerId(container);
  std::set<std::string> mounted;
  changeUse([&] {
    std::lock_guard lock(mutex_);
    auto use = refs_.of(container);
    mounted = use.mounted;
    refs_.set(container, {});
    std::vector<std::string> touched(use.volumes.begin(), use.volumes.end());
    touched.insert(touched.end(), use.mounted.begin(), use.mounted.end());
    return touched;
  });
  std::optional<Error> first;
  for (const auto& name : mounted) {
    auto guard = locks_->lock(name);
    try {
      unmountIfUnheld(name);
    } catch (const Error& e) {
      if (!first) first = e;
    }
  }
  if (first) throw *first;
}

std::string VolumesCore::mount(const std::string& container, const std::string& name, const std::string& destination,
                               bool readWrite, const std::string& copyFrom) {
  validateContainerId(container);
  auto guard = locks_->lock(name);
  VolumeRecord record = recordOf(name);
  std::string path = store_.dataPath(name);
  bool device = LocalDriver::needsMount(record.options);
  // Whether the device is mounted is the kernel's answer, not a count: a count could disagree
  // with it after a crash, the kernel cannot.
  if (device && !driver_.mounted(path)) driver_.mount(record.options, path);
  try {
    if (!copyFrom.empty()) copyUpIfEmpty(copyFrom, path);
    auto use = [&] {
      std::lock_guard lock(mutex_);
      return refs_.of(container);
    }();
    // Only a device's holders are recorded: they decide when it is unmounted. A plain
    // directory has nothing to undo, and its use is the reference's, so a run of a container
    // that references it already costs no write here or at its unmount.
    if (!use.volumes.count(name) || (device && !use.mounted.count(name))) {
      changeUse([&] {
        std::lock_guard lock(mutex_);
        auto use = refs_.of(container);
        use.volumes.insert(name);  // a mounted volume is in use, whatever reference said
        if (device) use.mounted.insert(name);
        refs_.set(container, use);
        return std::vector<std::string>{name};
      });
    }
  } catch (const Error& e) {
    try {
      unmountIfUnheld(name);
    } catch (const Error& inner) {
      spdlog::warn("volumes: could not unmount {} after a failed mount: {}", name, inner.what());
    }
    throw;
  }
  events_("mount", name,
          {{"container", container},
           {"destination", destination},
           {"driver", record.driver},
           {"propagation", ""},
           {"read/write", readWrite ? "true" : "false"}});
  return path;
}

void VolumesCore::populate(const std::string& container, const std::string& name, const std::string& copyFrom) {
  validateContainerId(container);
  auto guard = locks_->lock(name);
  VolumeRecord record = recordOf(name);
  std::string path = store_.dataPath(name);
  if (LocalDriver::needsMount(record.options) && !driver_.mounted(path)) driver_.mount(record.options, path);
  std::optional<Error> failed;
  try {
    copyUpIfEmpty(copyFrom, path);
  } catch (const Error& e) {
    failed = e;
  }
  unmountIfUnheld(name);
  if (failed) throw *failed;
}

void VolumesCore::unmount(const std::string& container, const std::string& name) {
  validateContainerId(container);
  auto guard = locks_->lock(name);
  std::string driver;
  bool held = false;
  {
    std::lock_guard lock(mutex_);
    auto it = volumes_.find(name);
    if (it == volumes_.end()) return;
    driver = it->second.driver;
    held = refs_.of(container).mounted.count(name) > 0;
  }
  if (held) {
    // A change of the table, numbered as one: a container's mounted volumes are among those it
    // references, so this leaves the volume in use, but the copy need not rely on it.
    changeUse([&] {
      std::lock_guard lock(mutex_);
      auto use = refs_.of(container);
      if (use.mounted.erase(name)) refs_.set(container, use);
      return std::vector<std::string>{name};
    });
  }
  unmountIfUnheld(name);
  events_("unmount", name, {{"container", container}, {"driver", driver}});
}

void VolumesCore::reconcile(const std::map<std::string, ContainerUse>& table) {
  for (const auto& [container, use] : table) validateContainerId(container);
  std::vector<std::string> devices;
  // Every volume's users may have changed: the whole table is replaced.
  changeUse([&] {
    std::lock_guard lock(mutex_);
    auto known = table;
    for (auto& [container, use] : known) {
      for (const auto* set : {&use.volumes, &use.mounted}) {
        for (const auto& v : *set) {
          if (!volumes_.count(v))
            spdlog::warn("volumes: container {} names volume {}, which does not exist", container, v);
        }
      }
      std::erase_if(use.volumes, [&](const std::string& v) { return !volumes_.count(v); });
      std::erase_if(use.mounted, [&](const std::string& v) { return !volumes_.count(v); });
      use.volumes.insert(use.mounted.begin(), use.mounted.end());
    }
    refs_.replaceAll(known);
    std::vector<std::string> touched;
    for (const auto& [name, record] : volumes_) {
      touched.push_back(name);
      if (LocalDriver::needsMount(record.options)) devices.push_back(name);
    }
    return touched;
  });
  for (const auto& name : devices) {
    auto guard = locks_->lock(name);
    try {
      unmountIfUnheld(name);
    } catch (const Error& e) {
      spdlog::warn("volumes: could not unmount {}: {}", name, e.what());
    }
  }
}

VolumeRecord VolumesCore::recordOf(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = volumes_.find(name);
  if (it == volumes_.end()) throw noSuchVolume(name);
  return it->second;
}

void VolumesCore::unmountIfUnheld(const std::string& name) {
  VolumeRecord record;
  {
    std::lock_guard lock(mutex_);
    auto it = volumes_.find(name);
    if (it == volumes_.end() || !refs_.holders(name).empty()) return;
    record = it->second;
  }
  if (!LocalDriver::needsMount(record.options)) return;
  std::string path = store_.dataPath(name);
  if (driver_.mounted(path)) driver_.unmount(path);
}

}  // namespace berth::volumes
