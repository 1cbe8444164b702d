#include "services/containerd-bridge/container_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "common/errors.h"
#include "common/files.h"
#include "common/random.h"
#include "common/time_format.h"
#include "common/json_text.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;



// A short, readable name in dockerd's adjective_surname style.
std::string generatedName(const std::string& id) {
  static const char* adjectives[] = {"admiring", "brave",  "calm",    "dazzling", "eager",  "focused", "gallant",
                                     "happy",    "jolly",  "keen",    "loving",   "modest", "nifty",   "peaceful",
                                     "quirky",   "serene", "tender",  "upbeat",   "vibrant", "wizardly", "zealous"};
  static const char* names[] = {"babbage",  "curie",   "dijkstra", "euler",  "faraday", "goldberg", "hopper",
                                "hypatia",  "kepler",  "lamport",  "lovelace", "meitner", "noether", "pasteur",
                                "ritchie",  "shannon", "thompson", "turing", "wozniak", "yalow",   "zuse"};
  unsigned a = static_cast<unsigned>(std::stoul(id.substr(0, 4), nullptr, 16));
  unsigned b = static_cast<unsigned>(std::stoul(id.substr(4, 4), nullptr, 16));
  return std::string("/") + adjectives[a % std::size(adjectives)] + "_" + names[b % std::size(names)];
}

std::string withSlash(const std::string& name) { return name.empty() || name[0] == '/' ? name : "/" + name; }

}  // namespace

bool validContainerName(const std::string& raw) {
  std::string name = raw.empty() || raw[0] != '/' ? raw : raw.substr(1);
  if (name.size() < 2 || name.size() > 255 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

json ContainerRecord::toJson() const {
  return {{"ID", id},
          {"Name", name},
          {"Created", created},
          {"Image", image},
          {"ImageRef", imageRef},
          {"Config", config},
          {"HostConfig", hostConfig},
          {"State",
           {{"Status", statusName(state.status)},
            {"Pid", state.pid},
            {"ExitCode", state.exitCode},
            {"Error", state.error},
            {"OOMKilled", state.oomKilled},
            {"StartedAt", state.startedAt},
            {"FinishedAt", state.finishedAt},
            {"Health", state.health}}},
          {"RestartCount", restartCount},
          {"LogPath", logPath},
          {"Path", path},
          {"Args", args},
          {"HasBeenStartedBefore", hasBeenStarted},
          {"HasBeenManuallyStopped", manuallyStopped},
          {"RemovalInProgress", state.status == ContainerStatus::removing},
          {"Exits", exits},
          {"RootfsMounts", [&] {
             json mounts = json::array();
             for (const auto& m : rootfsMounts) mounts.push_back({{"Type", m.type}, {"Source", m.source}, {"Options", m.options}});
             return mounts;
           }()},
          {"MountPoints", [&] {
             json points = json::array();
             for (const auto& p : mountPoints) points.push_back(p.toJson());
             return points;
           }()},
          {"EndpointsConfig", endpointsConfig},
          {"NetworkSettings", networkSettings}};
}

ContainerRecord ContainerRecord::fromJson(const json& j) {
  ContainerRecord r;
  r.id = j.at("ID").get<std::string>();
  r.name = j.at("Name").get<std::string>();
  r.created = j.value("Created", "");
  r.image = j.value("Image", "");
  r.imageRef = j.value("ImageRef", "");
  r.config = j.value("Config", json::object());
  r.hostConfig = j.value("HostConfig", json::object());
  auto s = j.value("State", json::object());
  try {
    r.state.status = parseStatus(s.value("Status", "created"));
  } catch (const Error&) {
    r.state.status = ContainerStatus::dead;  // a status this version does not know: keep the record, run nothing
  }
  if (j.value("RemovalInProgress", false)) r.state.status = ContainerStatus::removing;
  r.state.pid = s.value("Pid", 0);
  r.state.exitCode = s.value("ExitCode", 0);
  r.state.error = s.value("Error", "");
  r.state.oomKilled = s.value("OOMKilled", false);
  r.state.startedAt = s.value("StartedAt", r.state.startedAt);
  r.state.finishedAt = s.value("FinishedAt", r.state.finishedAt);
  r.state.health = s.value("Health", json());
  r.restartCount = j.value("RestartCount", 0);
  r.logPath = j.value("LogPath", "");
  r.path = j.value("Path", "");
  r.args = j.value("Args", std::vector<std::string>{});
  r.hasBeenStarted = j.value("HasBeenStartedBefore", false);
  r.manuallyStopped = j.value("HasBeenManuallyStopped", false);
  r.exits = j.value("Exits", int64_t{0});
  r.endpointsConfig = j.value("EndpointsConfig", json::object());
  if (!r.endpointsConfig.is_object()) r.endpointsConfig = json::object();
  r.networkSettings = j.value("NetworkSettings", json());
  for (const auto& m : j.value("RootfsMounts", json::array())) {
    if (!m.is_object()) continue;
    r.rootfsMounts.push_back({m.value("Type", ""), m.value("Source", ""), m.value("Options", std::vector<std::string>{})});
  }
  if (j.contains("MountPoints") && j["MountPoints"].is_array()) {
    for (const auto& p : j["MountPoints"]) {
      if (p.is_object()) r.mountPoints.push_back(MountPoint::fromJson(p));
    }
  } else {
    // A record from before volumes: binds were its only mounts (an image's VOLUMEs were not made).
    try {
      r.mountPoints = planMountPoints(json::object(), r.hostConfig, [](const std::string&) {
        return std::vector<MountPoint>{};
      });
    } catch (const Error&) {
    }
  }
  return r;
}

ContainerStore::ContainerStore(std::string root) : root_(std::move(root)) {
  makeDirectories(root_, 0700);
  pruneRemovedLogs();
  for (const auto& e : fs::directory_iterator(root_)) {
    if (!e.is_directory()) continue;
    std::string id = e.path().filename();
    if (id.front() == '.') continue;  // .removed-logs
    auto text = readFileIfExists(e.path().string() + "/config.v2.json");
    json j = text ? parseJsonOrDiscarded(*text) : json();
    ContainerRecord r;
    bool ok = j.is_object();
    if (ok) {
      try {
        r = ContainerRecord::fromJson(j);
        ok = r.id == id && validContainerName(r.name) && !names_.count(r.name);
      } catch (const std::exception&) {
        ok = false;
      }
    }
    if (!ok) {
      spdlog::warn("containers: removing {} (no readable record: an interrupted create)", id);
      removeAll(e.path());
      continue;
    }
    names_[r.name] = id;
    containers_[id] = std::make_shared<const ContainerRecord>(std::move(r));
  }
}

ContainerCounts ContainerStore::counts() const {
  std::shared_lock lock(mutex_);
  ContainerCounts c;
  for (const auto& [id, shared] : containers_) {
    const ContainerRecord& r = *shared;
    ++c.total;
    // dockerd's /info counts: running includes restarting; paused on its own.
    auto flags = flagsOf(r.state.status);
    if (flags.paused) ++c.paused;
    else if (flags.running) ++c.running;
    else ++c.stopped;
  }
  return c;
}

void ContainerStore::checkNameLocked(const std::string& name, const std::string& forId) const {
  if (!validContainerName(name)) {
    throw Error(ErrorKind::invalid, "Invalid container name (" + name.substr(name[0] == '/' ? 1 : 0) +
                                        "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  }
  auto it = names_.find(name);
  if (it != names_.end() && it->second != forId) {
    throw Error(ErrorKind::conflict, "Conflict. The container name \"" + name + "\" is already in use by container \"" +
                                         it->second + "\". You have to remove (or rename) that container to be able to "
                                         "reuse that name.");
  }
}

std::string ContainerStore::newId() const {
  std::shared_lock lock(mutex_);
  std::string id;
  do {
    id = randomHex(32);
  } while (containers_.count(id));
  return id;
}

ContainerRecord ContainerStore::reserve(const std::string& requestedName, const std::string& id) {
  std::unique_lock lock(mutex_);
  ContainerRecord r;
  if (!id.empty()) {
    if (containers_.count(id)) throw Error(ErrorKind::conflict, "container " + id + " exists already");
    r.id = id;
  } else {
    do {
      r.id = randomHex(32);
    } while (containers_.count(r.id));
  }
  if (requestedName.empty()) {
    std::string name = generatedName(r.id);
    for (int i = 2; names_.count(name); ++i) name = generatedName(r.id) + std::to_string(i);
    r.name = name;
  } else {
    r.name = withSlash(requestedName);
    checkNameLocked(r.name, r.id);
  }
  names_[r.name] = r.id;  // reserved until save() or remove()
  r.created = rfc3339Nano(nowUnixNanos());
  return r;
}

void ContainerStore::add(const ContainerRecord& record) {
  std::unique_lock write(writeMutex_);
  {
    std::shared_lock lock(mutex_);
    if (containers_.count(record.id)) throw Error(ErrorKind::conflict, "container " + record.id + " exists already");
  }
  std::string dir = directoryOf(record.id);
  makeDirectories(dir, 0700);
  writeFileAtomic(dir + "/config.v2.json", record.toJson().dump(), 0600);
  {
    std::unique_lock lock(mutex_);
    containers_[record.id] = std::make_shared<const ContainerRecord>(record);
    names_[record.name] = record.id;
  }
  write.unlock();
  if (onChange_) onChange_(record.id);
}

ContainerRecord ContainerStore::update(const std::string& id, const std::function<void(ContainerRecord&)>& change) {
  std::unique_lock write(writeMutex_);
  ContainerRecord r;
  {
    std::shared_lock lock(mutex_);
    auto it = containers_.find(id);
    if (it == containers_.end()) throw Error(ErrorKind::notFound, "No such container: " + id);
    r = *it->second;
  }
  change(r);
  writeFileAtomic(directoryOf(id) + "/config.v2.json", r.toJson().dump(), 0600);
  {
    std::unique_lock lock(mutex_);
    containers_[id] = std::make_shared<const ContainerRecord>(r);
  }
  write.unlock();
  if (onChange_) onChange_(id);
  return r;
}

void ContainerStore::remove(const std::string& id, bool keepLog) {
  if (keepLog) {
    std::string logPath;
    {
      std::shared_lock lock(mutex_);
      if (auto it = containers_.find(id); it != containers_.end()) logPath = it->second->logPath;
    }
    std::string base = fs::path(logPath).filename();
    if (!base.empty() && fs::path(logPath).parent_path() == directoryOf(id)) {
      std::string kept = root_ + "/.removed-logs/" + id;
      try {
        pruneRemovedLogs();
        makeDirectories(kept, 0700);
        // Its 60 s start now, also for a directory a removal a crash cut left: another
        // removal's prune must not take it while it is filled.
        fs::last_write_time(kept, fs::file_time_type::clock::now());
        // Linked, not renamed: the files stay whole at their own place until the directory
        // goes below, so a resumed attach finds all of them at one place or the other.
        for (const auto& e : fs::directory_iterator(directoryOf(id))) {
          std::string name = e.path().filename();
          if (name.rfind(base, 0) != 0) continue;
          fs::remove(kept + "/" + name);  // a removal a crash cut left it there
          fs::create_hard_link(e.path(), kept + "/" + name);
        }
      } catch (const std::exception& e) {
        // Part of a log is worse than none: a resumed attach would take it for the whole.
        spdlog::warn("containers: keeping the log of {} for a cut attach: {}", id.substr(0, 12), e.what());
        std::error_code ec;
        fs::remove_all(kept, ec);
      }
    }
  }
  removeAll(directoryOf(id));
  {
    std::unique_lock lock(mutex_);
    for (auto it = names_.begin(); it != names_.end();) {
      if (it->second == id) it = names_.erase(it);
      else ++it;
    }
    containers_.erase(id);
  }
  if (onChange_) onChange_(id);
}

std::string ContainerStore::keptLogPath(const std::string& id) const {
  if (id.empty() || id.find('/') != std::string::npos || id.front() == '.') return "";
  return root_ + "/.removed-logs/" + id + "/" + id + "-json.log";
}

std::optional<std::string> ContainerStore::removedLogOf(const std::string& id) const {
  std::string logPath = keptLogPath(id);
  if (logPath.empty() || !fs::exists(fs::path(logPath).parent_path())) return std::nullopt;
  return logPath;
}

void ContainerStore::pruneRemovedLogs() const {
  std::error_code ec;
  auto now = fs::file_time_type::clock::now();
  for (const auto& e : fs::directory_iterator(root_ + "/.removed-logs", ec)) {
    auto modified = fs::last_write_time(e.path(), ec);
    if (!ec && now - modified > std::chrono::seconds(kRemovedLogSeconds)) removeAll(e.path());
  }
}

void ContainerStore::rename(const std::string& id, const std::string& newName) {
  // Under the write lock like update(), so a concurrent update cannot write the old name back.
  std::unique_lock write(writeMutex_);
  ContainerRecord r;
  std::string name = withSlash(newName);
  {
    std::shared_lock lock(mutex_);
    checkNameLocked(name, id);
    auto it = containers_.find(id);
    if (it == containers_.end()) throw Error(ErrorKind::notFound, "No such container: " + id);
    r = *it->second;
  }
  std::string old = r.name;
  r.name = name;
  writeFileAtomic(directoryOf(id) + "/config.v2.json", r.toJson().dump(), 0600);
  {
    std::unique_lock lock(mutex_);
    names_.erase(old);
    names_[name] = id;
    containers_[id] = std::make_shared<const ContainerRecord>(r);
  }
  write.unlock();
  if (onChange_) onChange_(id);
}

std::string ContainerStore::resolveLocked(const std::string& ref) const {
  if (ref.empty()) throw Error(ErrorKind::notFound, "No such container: ");
  if (containers_.count(ref)) return ref;
  if (auto it = names_.find(withSlash(ref)); it != names_.end() && containers_.count(it->second)) return it->second;
  std::string match;
  for (auto it = containers_.lower_bound(ref); it != containers_.end() && it->first.rfind(ref, 0) == 0; ++it) {
    if (!match.empty()) throw Error(ErrorKind::invalid, "multiple IDs found with provided prefix: " + ref);
    match = it->first;
  }
  if (match.empty()) throw Error(ErrorKind::notFound, "No such container: " + ref);
  return match;
}

ContainerRecord ContainerStore::get(const std::string& ref) const {
  std::shared_lock lock(mutex_);
  return *containers_.at(resolveLocked(ref));
}

std::shared_ptr<const ContainerRecord> ContainerStore::find(const std::string& ref) const {
  std::shared_lock lock(mutex_);
  return containers_.at(resolveLocked(ref));
}

std::vector<ContainerRecord> ContainerStore::list() const {
  std::shared_lock lock(mutex_);
  std::vector<ContainerRecord> out;
  out.reserve(containers_.size());
  for (const auto& [id, r] : containers_) out.push_back(*r);
  return out;
}

std::vector<std::shared_ptr<const ContainerRecord>> ContainerStore::snapshot() const {
  std::shared_lock lock(mutex_);
  std::vector<std::shared_ptr<const ContainerRecord>> out;
  out.reserve(containers_.size());
  for (const auto& [id, r] : containers_) out.push_back(r);
  return out;
}

}  // namespace berth::bridge
