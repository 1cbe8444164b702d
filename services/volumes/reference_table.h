// Who uses which volume: for each container, the volumes it references (from its create to
// its removal, running or not) and, of those, the ones mounted for its running task. A volume
// is in use while any container references or mounts it; a device volume stays mounted while
// any container holds it mounted.
//
// Durable: one file per container, <dir>/<container id>.json, replaced with writeFileAtomic
// (temp, fsync, rename, fsync of the directory) before the table in memory changes, so what a
// caller was told is on disk, and a kill -9 leaves each container's entry old or new, never
// torn. The bridge's reconcile replaces the whole table (docs/volumes.md argues why that
// makes a restart of either service lose or invent no reference).
//
// Not thread-safe: the volumes core serialises its calls.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace berth::volumes {

struct ContainerUse {
  std::set<std::string> volumes;  // referenced
  std::set<std::string> mounted;  // mounted for its running task
  bool empty() const { return volumes.empty() && mounted.empty(); }
  bool operator==(const ContainerUse&) const = default;
};

class ReferenceTable {
 public:
  // Reads every container's file in `dir` (created 0700 when missing); unreadable files are
  // skipped with a warning.
  explicit ReferenceTable(std::string dir);

  const std::map<std::string, ContainerUse>& all() const { return table_; }
  // The container's entry (empty when it has none).
  ContainerUse of(const std::string& container) const;
  // Replaces the container's entry; an empty one removes its file.
  void set(const std::string& container, const ContainerUse& use);
  // Replaces the whole table, writing only the entries that changed.
  void replaceAll(const std::map<std::string, ContainerUse>& table);

  // Containers that reference or mount the volume, sorted.
  std::vector<std::string> users(const std::string& volume) const;
  // Containers that hold the volume mounted, sorted.
  std::vector<std::string> holders(const std::string& volume) const;
  // Every volume some container references or mounts (users() not empty), in one walk.
  std::set<std::string> used() const;

 private:
  void persist(const std::string& container, const ContainerUse& use);

  std::string dir_;
  std::map<std::string, ContainerUse> table_;
};

// Container ids name files here: only 64 lower-case hex characters are taken (invalid otherwise).
void validateContainerId(const std::string& id);

}  // namespace berth::volumes
