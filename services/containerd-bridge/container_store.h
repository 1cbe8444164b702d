// The container store under <data-root>/containers, owned by the containerd-bridge: one
// directory per container holding its record (config.v2.json, written atomically), the name
// index, and look-ups by id, name or unique id prefix as dockerd resolves them. Readers get a
// copy of the record (a snapshot): `docker ps` and `inspect` never wait on a busy container.
// Records are immutable once published (an update publishes a new one), so a listing shares
// them instead of copying each.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "services/containerd-bridge/container_status.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/mount_points.h"

namespace berth::bridge {

struct ContainerState {
  // Changed only through the transitions of container_status.h.
  ContainerStatus status = ContainerStatus::created;
  int pid = 0;
  int exitCode = 0;
  std::string error;
  bool oomKilled = false;
  std::string startedAt = "0001-01-01T00:00:00Z";
  std::string finishedAt = "0001-01-01T00:00:00Z";
  // Docker's State.Health ({Status, FailingStreak, Log}) while a health check runs; null without one.
  nlohmann::json health;
};

struct ContainerRecord {
  std::string id;       // 64 hex characters
  std::string name;     // with the leading slash, as dockerd stores it
  std::string created;  // RFC 3339 with nanoseconds
  std::string image;    // image id
  std::string imageRef; // the reference the client gave
  nlohmann::json config = nlohmann::json::object();      // Docker's Config
  nlohmann::json hostConfig = nlohmann::json::object();  // Docker's HostConfig
  ContainerState state;
  int restartCount = 0;
  std::string logPath;
  std::string path;                // the process's executable, as dockerd's inspect shows it
  std::vector<std::string> args;   // and its arguments
  bool hasBeenStarted = false;
  bool manuallyStopped = false;    // stop/kill by a user: restart policies (but "always" on restore) hold off
  int64_t exits = 0;               // how many times the container's process has exited (wait next-exit)
  std::vector<Mount> rootfsMounts; // its writable layer's mounts, from the images service at create
  std::vector<MountPoint> mountPoints;  // binds, volumes and tmpfs mounts, by destination, planned at create
  nlohmann::json endpointsConfig = nlohmann::json::object();  // NetworkingConfig.EndpointsConfig of the create
  // From the network service at the first start ({Networks, Ports, Nameservers}); null before.
  nlohmann::json networkSettings;

  nlohmann::json toJson() const;
  static ContainerRecord fromJson(const nlohmann::json& j);
};

struct ContainerCounts {
  unsigned total = 0;
  unsigned running = 0;
  unsigned paused = 0;
  unsigned stopped = 0;
};

class ContainerStore {
 public:
  // Loads every record under `root`; a directory without a readable record is an interrupted
  // create and is removed.
  explicit ContainerStore(std::string root);

  ContainerCounts counts() const;

  // An id no container has.
  std::string newId() const;
  // A record for `id` (a new one when empty), and a name: the one asked for (validated, unique)
  // or a generated one. conflict with dockerd's message when the name is taken; invalid for a
  // bad name.
  ContainerRecord reserve(const std::string& requestedName, const std::string& id = "");
  // Writes a new container's first record durably, then publishes it to readers. conflict when
  // a record with its id exists: every later change is an update().
  void add(const ContainerRecord& record);
  // Reads, changes and writes one record as a unit (no other save or update in between), so
  // an exit handler and a user's stop cannot overwrite each other's fields. notFound when the
  // container is gone. Returns the record as written.
  ContainerRecord update(const std::string& id, const std::function<void(ContainerRecord&)>& change);
  // Removes a container's record and directory, and frees its name. With `keepLog`, its
  // json-file log (the live file and the rotated ones) is first moved aside and kept for
  // kRemovedLogSeconds, so that an attach a bridge restart cut can still be finished from it
  // (docker run --rm: the next bridge removes the exited container before the API resumes).
  void remove(const std::string& id, bool keepLog = false);
  // Where the kept log of a removed container is (named as its live file was), or nullopt.
  std::optional<std::string> removedLogOf(const std::string& id) const;
  // Where remove(id, true) keeps the log, whether or not it has yet; empty for an id that is
  // no file name.
  std::string keptLogPath(const std::string& id) const;
  static constexpr int kRemovedLogSeconds = 60;
  // Renames (a read-modify-write like update); conflict when taken, invalid when malformed.
  void rename(const std::string& id, const std::string& newName);

  // By full id, name (with or without "/"), or unique id prefix. notFound "No such container: X",
  // invalid for an ambiguous prefix.
  ContainerRecord get(const std::string& ref) const;
  // As get, shared rather than copied: the record as published now, which never changes.
  std::shared_ptr<const ContainerRecord> find(const std::string& ref) const;
  std::vector<ContainerRecord> list() const;
  // Every record as published now, shared rather than copied (for listings).
  std::vector<std::shared_ptr<const ContainerRecord>> snapshot() const;
  std::string directoryOf(const std::string& id) const { return root_ + "/" + id; }

  // Called with a container's id after every change of its record a reader can see (add,
  // update, rename, remove), by the thread that made it, once it is published and outside the
  // store's locks. Calls for one container may overtake each other: an observer reads the
  // record as it is now (find), never assumes which change it is told of. Set once, before any
  // change.
  using ChangeObserver = std::function<void(const std::string& id)>;
  void onChange(ChangeObserver observer) { onChange_ = std::move(observer); }

 private:
  std::string resolveLocked(const std::string& ref) const;
  // Removes kept logs older than kRemovedLogSeconds.
  void pruneRemovedLogs() const;
  void checkNameLocked(const std::string& name, const std::string& forId) const;

  std::string root_;
  std::mutex writeMutex_;  // serialises save and update (file, then the in-memory copy)
  mutable std::shared_mutex mutex_;
  std::map<std::string, std::shared_ptr<const ContainerRecord>> containers_;  // id -> record
  std::map<std::string, std::string> names_;           // "/name" -> id (reserved or saved)
  ChangeObserver onChange_;
};

// dockerd's rule for container names: [a-zA-Z0-9][a-zA-Z0-9_.-]+, optional leading "/".
bool validContainerName(const std::string& name);

}  // namespace berth::bridge
