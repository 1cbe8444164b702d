// The volumes service's core: local volumes, their mounts and who uses them, behind the
// contract of ipc/schema/volumes.capnp (main.cc only adapts it to RPC). It owns the volume store
// (disk), the reference table (who uses what) and the local driver (options, mounts), and
// publishes volume events through a callback.
//
// Locking: one lock per volume name serialises the operations on that volume (create, remove,
// mount, unmount; a long copy-up holds only its volume's); a short table lock guards the maps
// in memory. A volume lock is always taken before the table lock.
//
// Errors carry dockerd's messages ("get NAME: no such volume", "remove NAME: volume is in
// use - [ID]", "create NAME: ...") with their domain kind; the API maps kinds to statuses.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "services/volumes/local_driver.h"
#include "services/volumes/reference_table.h"
#include "services/volumes/volume_store.h"

namespace berth::volumes {

// A volume as callers see it.
struct VolumeView {
  VolumeRecord record;
  std::string mountpoint;
  bool anonymous = false;
  std::vector<std::string> users;  // containers that reference or mount it, sorted
  int64_t sizeBytes = -1;          // -1 unless sizes were asked for
  bool inUse = false;              // some container references or mounts it (users, when asked for, not empty)
};

struct CreateRequest {
  std::string name;    // empty: a random 64-hex name
  std::string driver;  // "" or "local"
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> options;
  bool anonymous = false;  // adds the anonymous label (moby's for a volume it named)
};

struct PruneResult {
  std::vector<std::string> removed;
  uint64_t reclaimedBytes = 0;
};

class VolumesCore {
 public:
  using Attributes = std::vector<std::pair<std::string, std::string>>;
  // (action, actor id, attributes): a volume event to publish.
  using EventSink = std::function<void(const std::string&, const std::string&, const Attributes&)>;

  // Opens the store at `root`, reads the reference table and unmounts device volumes that no
  // container holds (left mounted by a crash).
  VolumesCore(std::string root, Mounter& mounter, EventSink events);
  ~VolumesCore();

  // Wraps every change of the volume table (a volume made, removed, or put back after a failed
  // removal): the observer calls `change`, which makes it (and may throw, for a removal
  // refused), and reads the volume's state itself afterwards. The views channel numbers the
  // change before making it, so a reply that shows it carries a stamp that covers it
  // (volume_view_feed.h). Called with the volume's lock held, so one volume's changes are told
  // in order, and before its event. Set before the first call.
  using ChangeObserver = std::function<void(const std::string& name, const std::function<void()>& change)>;
  void onChange(ChangeObserver observer) { changed_ = std::move(observer); }
  // The same for a change of the reference table: `change` makes it and returns the volumes
  // whose users it may have changed (names of volumes that do not exist are skipped).
  using UseChange = std::function<std::vector<std::string>()>;
  using UseChangeObserver = std::function<void(const UseChange& change)>;
  void onUseChange(UseChangeObserver observer) { useChanged_ = std::move(observer); }

  uint32_t count() const;
  // For the views channel: the volume (nullopt when there is none), or every volume sorted by
  // name, without users and sizes but with whether any container uses it.
  std::optional<VolumeView> find(const std::string& name) const;
  std::vector<VolumeView> all() const;

  // The volume, and whether this call created it. Emits create when it did.
  std::pair<VolumeView, bool> create(const CreateRequest& request);
  VolumeView inspect(const std::string& name) const;
  // Sorted by name. `filtersJson`: dangling, driver, label, name.
  std::vector<VolumeView> list(const std::string& filtersJson, bool withSizes) const;
  // Emits destroy.
  void remove(const std::string& name, bool force);
  // Unused volumes without options; anonymous ones only unless `all` (or the filter all=true).
  // Emits destroy per volume, then prune.
  PruneResult prune(const std::string& filtersJson, bool all);

  void reference(const std::string& container, const std::vector<std::string>& volumes);
  void release(const std::string& container);
  // The host path to bind. Emits mount.
  std::string mount(const std::string& container, const std::string& name, const std::string& destination,
                    bool readWrite, const std::string& copyFrom);
  // Copies `copyFrom` into the volume when it is empty (mounting a device volume for the
  // while). No event.
  void populate(const std::string& container, const std::string& name, const std::string& copyFrom);
  // Emits unmount (nothing for a volume that does not exist).
  void unmount(const std::string& container, const std::string& name);
  void reconcile(const std::map<std::string, ContainerUse>& table);

 private:
  class VolumeLocks;
  // With the table lock held; `withUse` sets inUse without the users (it is set with them).
  VolumeView viewOf(const VolumeRecord& record, bool withUsers = true, bool withUse = true) const;
  // Makes a change of the volume table through the observer (onChange), or directly.
  void changeTable(const std::string& name, const std::function<void()>& change);
  // Makes a change of the reference table through its observer (onUseChange), or directly.
  void changeUse(const UseChange& change);
  // A copy of the volume's record; notFound "get NAME: no such volume". Takes the table lock.
  VolumeRecord recordOf(const std::string& name) const;
  // With the volume's lock held.
  void removeLocked(const std::string& name, bool force);
  // With the volume's lock held: unmounts its device when no container holds it.
  void unmountIfUnheld(const std::string& name);

  VolumeStore store_;
  LocalDriver driver_;
  EventSink events_;
  ChangeObserver changed_;
  UseChangeObserver useChanged_;
  std::unique_ptr<VolumeLocks> locks_;
  mutable std::mutex mutex_;  // guards volumes_ and refs_
  std::map<std::string, VolumeRecord> volumes_;
  ReferenceTable refs_;
  std::atomic<bool> pruning_{false};
};

}  // namespace berth::volumes
