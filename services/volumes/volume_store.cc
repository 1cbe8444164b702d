#include "services/volumes/volume_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>

#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "common/random.h"
#include "services/volumes/directory_tree.h"
#include "services/volumes/volume_names.h"
#include "common/json_text.h"

namespace berth::volumes {
namespace {

constexpr const char* kRecordFile = "volume.json";

void fsyncDirectory(int fd, const std::string& path) {
  if (::fsync(fd) != 0) throwSystemError("fsync", path);
}

}  // namespace

std::string recordToJson(const VolumeRecord& record) {
  nlohmann::json j = {{"Name", record.name},
                      {"Driver", record.driver},
                      {"Labels", record.labels},
                      {"Options", record.options},
                      {"CreatedAtNano", record.createdAtNano}};
  return j.dump() + "\n";
}

VolumeRecord recordFromJson(const std::string& text) {
  auto j = parseJsonOrDiscarded(text);
  if (!j.is_object() || !j["Name"].is_string() || !j["Driver"].is_string() || !j["Labels"].is_object() ||
      !j["Options"].is_object() || !j["CreatedAtNano"].is_number_integer()) {
    throw Error(ErrorKind::invalid, "not a volume record");
  }
  VolumeRecord r;
  r.name = j["Name"].get<std::string>();
  r.driver = j["Driver"].get<std::string>();
  for (auto& [k, v] : j["Labels"].items()) {
    if (!v.is_string()) throw Error(ErrorKind::invalid, "not a volume record: label " + k);
    r.labels[k] = v.get<std::string>();
  }
  for (auto& [k, v] : j["Options"].items()) {
    if (!v.is_string()) throw Error(ErrorKind::invalid, "not a volume record: option " + k);
    r.options[k] = v.get<std::string>();
  }
  r.createdAtNano = j["CreatedAtNano"].get<int64_t>();
  return r;
}

VolumeStore::VolumeStore(std::string root) : root_(std::move(root)) {
  makeDirectories(root_, 0701, true);
  makeDirectories(root_ + "/.staging", 0700, true);
  makeDirectories(root_ + "/.trash", 0700, true);
  auto openDir = [](const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throwSystemError("open", path);
    return fd;
  };
  rootFd_ = openDir(root_);
  stagingFd_ = openDir(root_ + "/.staging");
  trashFd_ = openDir(root_ + "/.trash");
  // What an interrupted create or remove left: never listed, removed now.
  emptyDirectory(stagingFd_.get(), root_ + "/.staging");
  emptyDirectory(trashFd_.get(), root_ + "/.trash");
}

void VolumeStore::emptyDirectory(int fd, const std::string& dir) {
  for (const auto& name : directoryEntries(fd, dir)) {
    try {
      removeTreeAt(fd, name);
    } catch (const Error& e) {
      spdlog::error("volumes: could not remove {}/{}: {}", dir, name, e.what());
    }
  }
}

std::vector<VolumeRecord> VolumeStore::loadAll() const {
  std::vector<VolumeRecord> out;
  for (const auto& name : directoryEntries(rootFd_.get(), root_)) {
    if (name.empty() || name[0] == '.') continue;
    struct stat st {};
    if (::fstatat(rootFd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) continue;
    try {
      validateVolumeName(name);
      auto record = recordFromJson(readFile(root_ + "/" + name + "/" + kRecordFile));
      if (record.name != name) throw Error(ErrorKind::invalid, "the record names " + record.name);
      out.push_back(std::move(record));
    } catch (const Error& e) {
      spdlog::warn("volumes: {}/{} is not a volume, skipped: {}", root_, name, e.what());
    }
  }
  return out;
}

std::string VolumeStore::stage(const VolumeRecord& record) {
  std::string staged = root_ + "/.staging/" + randomHex(16);
  // A name longer than a file name can be fails here, before anything is staged.
  if (record.name.size() > NAME_MAX - 20) throw Error(ErrorKind::invalid, "volume name is too long: " + record.name);
  if (::mkdir(staged.c_str(), 0701) != 0) throwSystemError("mkdir", staged);
  // mkdir applies the umask; the modes are dockerd's.
  if (::chmod(staged.c_str(), 0701) != 0) throwSystemError("chmod", staged);
  std::string data = staged + "/_data";
  if (::mkdir(data.c_str(), 0755) != 0) throwSystemError("mkdir", data);
  if (::chmod(data.c_str(), 0755) != 0) throwSystemError("chmod", data);
  // Durable: the record, and (through the directory fsync it ends with) _data. No temp file:
  // the staged directory is renamed into place whole.
  writeNewFileDurably(staged + "/" + kRecordFile, recordToJson(record), 0600);
  return staged;
}

std::string VolumeStore::stageOnly(const VolumeRecord& record) { return stage(record); }

void VolumeStore::create(const VolumeRecord& record) {
  std::string staged = stage(record);
  std::string stagedName = staged.substr(staged.rfind('/') + 1);
  std::string target = root_ + "/" + record.name;
  if (::renameat2(stagingFd_.get(), stagedName.c_str(), rootFd_.get(), record.name.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    try {
      removeTreeAt(stagingFd_.get(), stagedName);
    } catch (const Error& e) {
      spdlog::warn("volumes: leaving {} for the next start: {}", staged, e.what());
    }
    if (err == EEXIST) throw Error(ErrorKind::conflict, "volume " + record.name + " already exists");
    throwSystemError("rename", target, err);
  }
  fsyncDirectory(rootFd_.get(), root_);
}

std::string VolumeStore::moveToTrash(const std::string& name) {
  std::string trashed = name.substr(0, 64) + "-" + randomHex(8);
  if (::renameat(rootFd_.get(), name.c_str(), trashFd_.get(), trashed.c_str()) != 0) {
    throwSystemError("rename", root_ + "/" + name);
  }
  fsyncDirectory(rootFd_.get(), root_);
  return trashed;
}

void VolumeStore::trashOnly(const std::string& name) { moveToTrash(name); }

void VolumeStore::remove(const std::string& name) {
  std::string trashed = moveToTrash(name);
  try {
    removeTreeAt(trashFd_.get(), trashed);
  } catch (const Error& e) {
    spdlog::error("volumes: {} is out of the store but not yet deleted (the next start retries): {}", name, e.what());
  }
}

}  // namespace berth::volumes
