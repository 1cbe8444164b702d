#include "services/volumes/reference_table.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "common/files.h"
#include "services/volumes/directory_tree.h"
#include "common/json_text.h"

namespace berth::volumes {
namespace {

constexpr const char* kSuffix = ".json";

std::string toJson(const ContainerUse& use) {
  return nlohmann::json{{"Volumes", use.volumes}, {"Mounted", use.mounted}}.dump() + "\n";
}

ContainerUse fromJson(const std::string& text) {
  auto j = parseJsonOrDiscarded(text);
  if (!j.is_object() || !j["Volumes"].is_array() || !j["Mounted"].is_array()) {
    throw Error(ErrorKind::invalid, "not a reference record");
  }
  ContainerUse use;
  for (const auto& v : j["Volumes"]) use.volumes.insert(v.get<std::string>());
  for (const auto& v : j["Mounted"]) use.mounted.insert(v.get<std::string>());
  return use;
}

bool isContainerId(const std::string& id) {
  if (id.size() != 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

void validateContainerId(const std::string& id) {
  if (!isContainerId(id)) throw Error(ErrorKind::invalid, "invalid container id: " + id);
}

ReferenceTable::ReferenceTable(std::string dir) : dir_(std::move(dir)) {
  makeDirectories(dir_, 0700, true);
  UniqueFd fd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throwSystemError("open", dir_);
  for (const auto& name : directoryEntries(fd.get(), dir_)) {
    if (!name.ends_with(kSuffix)) {
      // A temp file of an interrupted write.
      ::unlinkat(fd.get(), name.c_str(), 0);
      continue;
    }
    std::string id = name.substr(0, name.size() - std::string(kSuffix).size());
    try {
      if (!isContainerId(id)) throw Error(ErrorKind::invalid, "not a container id");
      auto use = fromJson(readFile(dir_ + "/" + name));
      if (!use.empty()) table_[id] = std::move(use);
    } catch (const std::exception& e) {
      spdlog::warn("volumes: skipping reference record {}/{}: {}", dir_, name, e.what());
    }
  }
}

ContainerUse ReferenceTable::of(const std::string& container) const {
  auto it = table_.find(container);
  return it == table_.end() ? ContainerUse{} : it->second;
}

void ReferenceTable::persist(const std::string& container, const ContainerUse& use) {
  std::string path = dir_ + "/" + container + kSuffix;
  if (!use.empty()) {
    writeFileAtomic(path, toJson(use), 0600);
    return;
  }
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return;
    throwSystemError("unlink", path);
  }
  UniqueFd dfd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd || ::fsync(dfd.get()) != 0) throwSystemError("fsync", dir_);
}

void ReferenceTable::set(const std::string& container, const ContainerUse& use) {
  if (of(container) == use) return;
  persist(container, use);
  if (use.empty()) table_.erase(container);
  else table_[container] = use;
}

void ReferenceTable::replaceAll(const std::map<std::string, ContainerUse>& table) {
  for (const auto& [container, use] : table) set(container, use);
  std::vector<std::string> gone;
  for (const auto& [container, use] : table_) {
    if (!table.count(container)) gone.push_back(container);
  }
  for (const auto& container : gone) set(container, {});
}

std::vector<std::string> ReferenceTable::users(const std::string& volume) const {
  std::vector<std::string> out;
  for (const auto& [container, use] : table_) {
    if (use.volumes.count(volume) || use.mounted.count(volume)) out.push_back(container);
  }
  return out;
}

std::set<std::string> ReferenceTable::used() const {
  std::set<std::string> out;
  for (const auto& [container, use] : table_) {
    out.insert(use.volumes.begin(), use.volumes.end());
    out.insert(use.mounted.begin(), use.mounted.end());
  }
  return out;
}

std::vector<std::string> ReferenceTable::holders(const std::string& volume) const {
  std::vector<std::string> out;
  for (const auto& [container, use] : table_) {
    if (use.mounted.count(volume)) out.push_back(container);
  }
  return out;
}

}  // namespace berth::volumes
