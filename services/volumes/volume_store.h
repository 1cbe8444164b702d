// The volume store on disk, <data-root>/volumes (docs/volumes.md):
//
//   <root>/<name>/volume.json   the record: name, driver, labels, options, creation time
//   <root>/<name>/_data         the data, which containers bind (or a device's mount point)
//   <root>/.staging/            volumes being written; emptied at start
//   <root>/.trash/              volumes being deleted; emptied at start
//   <root>/.references/         the reference table (reference_table.h)
//
// A volume appears whole or not at all: it is written in .staging under a random name
// (directory, _data, the record written durably) and renamed into place with
// RENAME_NOREPLACE; a removal renames it into .trash (one atomic step that takes it out of
// the store) before anything is deleted. A kill -9 at any point leaves either the old state or
// the new one, and the leftovers of an interrupted step sit in .staging or .trash until the
// next start clears them. Volume names cannot start with '.', so these never collide.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/files.h"

namespace berth::volumes {

struct VolumeRecord {
  std::string name;
  std::string driver = "local";
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> options;  // the local driver's, as given
  int64_t createdAtNano = 0;
};

class VolumeStore {
 public:
  // Creates the root (0701, as dockerd's), empties .staging and .trash and reads every record.
  explicit VolumeStore(std::string root);

  const std::string& root() const { return root_; }
  std::string dataPath(const std::string& name) const { return root_ + "/" + name + "/_data"; }
  // The records read at start; a directory without a readable record is skipped with a warning.
  std::vector<VolumeRecord> loadAll() const;

  // Writes a new volume whole. Throws conflict when a volume of that name exists.
  void create(const VolumeRecord& record);
  // Takes the volume out of the store in one rename, then deletes its files. Throws when the
  // rename fails (the volume stays whole); a failure to delete leaves the files in .trash for
  // the next start and is only logged. The caller has unmounted it.
  void remove(const std::string& name);

  // Test hooks for crash safety: the steps of create and remove as a crash would cut them.
  // Stages `record` and returns the staging directory without moving it into place.
  std::string stageOnly(const VolumeRecord& record);
  // Moves the volume into .trash without deleting it.
  void trashOnly(const std::string& name);

 private:
  std::string stage(const VolumeRecord& record);
  std::string moveToTrash(const std::string& name);
  void emptyDirectory(int fd, const std::string& dir);

  std::string root_;
  UniqueFd rootFd_, stagingFd_, trashFd_;
};

// The record as JSON text and back; fromJson throws invalid for a document that is not one.
std::string recordToJson(const VolumeRecord& record);
VolumeRecord recordFromJson(const std::string& text);

}  // namespace berth::volumes
