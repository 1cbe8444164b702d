// How containers look to Docker clients: GET /containers/{id}/json, the entries and filters of
// GET /containers/json, docker stats, docker top and what an attach needs, rendered from store
// snapshots (never waiting on a busy container).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "services/containerd-bridge/container_stats.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_types.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/exec_processes.h"
#include "services/containerd-bridge/image_layers.h"
#include "services/containerd-bridge/public/container_filter.h"
#include "services/images/public/images_client.h"

namespace berth::bridge {

// A container's Config as inspect shows it (the flags and Labels dockerd always fills in); also
// what docker commit starts the new image's config from.
nlohmann::json inspectedConfig(const ContainerRecord& record);

class ContainerViews {
 public:
  ContainerViews(const ContainerStore& store, ContainerdTasks& tasks, ImageLayers& images, const ExecProcesses& execs,
                 const ServicePaths& paths)
      : store_(store), tasks_(tasks), images_(images), execs_(execs), paths_(paths) {}

  nlohmann::json inspect(const std::string& ref) const;
  nlohmann::json list(const ListOptions& options, Deadline deadline) const;
  // The same documents as JSON text, as the RPC replies carry them. Each record's rendering is
  // kept until the record changes (records are immutable once published): only what changes
  // without the record (a listing's "Up 5 minutes", inspect's ExecIDs) is rendered per call.
  std::string inspectText(const std::string& ref) const;
  std::string listText(const ListOptions& options, Deadline deadline) const;
  // The same with each container's SizeRw and SizeRootFs (`docker ps -s`, `docker system df`):
  // `sizesOf` is asked once, for every listed id; a container it leaves out gets none.
  using SizesOf = std::function<std::map<std::string, images::ContainerSize>(const std::vector<std::string>&)>;
  std::string listText(const ListOptions& options, Deadline deadline, const SizesOf& sizesOf) const;
  // A container's view as the API's read model keeps it (ContainerView in
  // containerd_bridge.capnp): the kept renderings and the Status's fixed parts. `servable` is
  // false when the record holds the rendering's marker text and must be rendered per call.
  struct Parts {
    std::string id, name;
    int64_t created = 0;
    bool running = false;
    bool servable = false;
    std::string inspectHead, inspectTail, listHead, listTail;
    std::string statusPrefix, statusSuffix;
    int64_t statusSince = -1;
    ContainerFacts facts;
  };
  Parts parts(const std::shared_ptr<const ContainerRecord>& record) const;
  // Drops a removed container's kept rendering (its documents' text and, through the weak
  // pointer, the record's own storage), and any other left by a listing that rendered a record
  // while it was being removed. Otherwise they stay until the sweep that only more containers bring.
  void forget(const std::string& id) const;
  size_t keptRenderings() const;  // how many renderings are kept (for tests)
  // One stats sample (see ContainerdBridge.stats); zeros when the container is not running.
  nlohmann::json stats(const std::string& ref) const;
  nlohmann::json top(const std::string& ref, const std::string& psArgs, Deadline deadline) const;
  AttachTarget attachTarget(const std::string& ref) const;

 private:
  struct Listed {
    int64_t created;  // unix nanoseconds
    std::shared_ptr<const ContainerRecord> record;
  };
  // The records a listing shows, newest first.
  std::vector<Listed> select(const ListOptions& options, Deadline deadline) const;
  // A record's documents as text, split where the per-call part goes.
  struct Rendered {
    std::weak_ptr<const ContainerRecord> record;
    std::string listHead, listTail;        // around the entry's Status
    std::string inspectHead, inspectTail;  // around ExecIDs
    ContainerFacts facts;                  // what docker ps --filter looks at
  };
  std::shared_ptr<const Rendered> rendered(const std::shared_ptr<const ContainerRecord>& record, int64_t created) const;

  const ContainerStore& store_;
  ContainerdTasks& tasks_;
  ImageLayers& images_;
  const ExecProcesses& execs_;
  const ServicePaths& paths_;
  CgroupLayout cgroups_ = detectCgroupLayout();
  mutable std::mutex renderedMutex_;
  mutable std::unordered_map<std::string, std::shared_ptr<const Rendered>> rendered_;  // by container id
  mutable size_t sweepRenderedAt_ = 256;
};

}  // namespace berth::bridge
