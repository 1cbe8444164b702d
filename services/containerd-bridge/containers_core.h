// The containers core of the containerd-bridge, assembled: the parts below behind one set of
// operations that the RPC adapter (main.cc) and the stream server call. It knows neither Cap'n
// Proto nor HTTP, and its edges are interfaces (containerd, the images service, the host), so
// unit tests drive it with fakes.
//
//   container_status   the state machine: statuses, admissions, transitions
//   ContainerLifecycle create, start, stop, kill, pause, remove... (one operation lock each)
//   TaskLauncher       the steps that run a container's process
//   VolumeAttachments  the container's volumes: made at create, mounted for each run, released
//   ContainerNetworks  the container's network namespace, from the network service
//   RuntimeTeardown    the only code that deletes containerd objects
//   ExitHandler        exits, restart policies, auto-removal
//   ContainerRestorer  restore when the bridge starts, shutdown without live-restore
//   ExecReaper         exec processes deleted from their shims once ended, across bridge deaths
//   LayerOperations    diff, export, commit and sizes: the images service's work on the layer
//   ExecProcesses, HealthMonitor, ContainerViews, ResourceUpdates, FilesystemAccessor
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "services/containerd-bridge/container_layers.h"
#include "services/containerd-bridge/container_lifecycle.h"
#include "services/containerd-bridge/container_restore.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_types.h"
#include "services/containerd-bridge/container_views.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/exec_processes.h"
#include "services/containerd-bridge/exec_reaper.h"
#include "services/containerd-bridge/exit_handler.h"
#include "services/containerd-bridge/exit_watch.h"
#include "services/containerd-bridge/filesystem_access.h"
#include "services/containerd-bridge/health_monitor.h"
#include "services/containerd-bridge/host_ops.h"
#include "services/containerd-bridge/image_layers.h"
#include "services/containerd-bridge/layer_operations.h"
#include "services/containerd-bridge/operation_locks.h"
#include "services/containerd-bridge/resource_updates.h"
#include "services/containerd-bridge/restart_policy.h"
#include "services/containerd-bridge/runtime_teardown.h"
#include "services/containerd-bridge/stray_shims.h"
#include "services/containerd-bridge/task_launcher.h"
#include "services/containerd-bridge/volume_attachments.h"
#include "services/containerd-bridge/volume_service.h"

namespace berth::bridge {

class ContainersCore final : private ContainerRuns {
 public:
  struct Edges {
    ContainerStore& store;
    ContainerdTasks& tasks;
    ContainerdContainers& containers;
    ImageLayers& images;
    HostOps& host;
    Scheduler& scheduler;
    EventSink events;
    ServicePaths paths;
    // The images service again, for diff, export, commit and sizes. Left out by unit tests of
    // the rest of the core: these operations then fail `unavailable`.
    ContainerLayers* layers = nullptr;
    // The volumes service. Left out by unit tests that use no volumes: a container that needs
    // one is then refused `unavailable`.
    VolumeService* volumes = nullptr;
    // The network service. Left out by unit tests: runc then makes each container's namespace.
    NetworkService* network = nullptr;
    // How often the containers containerd's events may have missed are checked (ExitHandler).
    std::chrono::milliseconds exitCheckInterval{std::chrono::seconds(30)};
  };
  explicit ContainersCore(Edges edges);
  ~ContainersCore() override;

  // When the bridge starts, before it serves (see ContainerRestorer).
  void restore();
  // Engine shutdown without live-restore.
  void shutdown(std::chrono::seconds timeout);
  // The check for exits containerd's events missed, when due: the restore's background loop
  // calls this every second (ExitHandler::checkIfDue).
  void checkExitsIfDue() { exitHandler_.checkIfDue(); }
  // That check at once, whatever the time. False when containerd did not answer.
  bool checkExitsNow() { return exitHandler_.checkNow(); }
  // Ends the background work (exit monitors, restarts by policy, the OOM watcher) without
  // touching any container: the bridge is going away.
  void stopBackgroundWork();

  // `caller`, the API process's pid when given: a --rm container it created and never started
  // is removed once that process is gone (removeAbandoned).
  ContainerLifecycle::Created create(const std::string& name, const nlohmann::json& body, Deadline deadline,
                                     const std::string& id = "", pid_t caller = 0) {
    auto created = lifecycle_.create(name, body, deadline, id);
    if (caller > 0) {
      std::lock_guard lock(creatorsMutex_);
      creators_[created.id] = caller;
    }
    return created;
  }
  // Removes the --rm containers whose creating API process died before they were started;
  // forgets the creators of the others once started or gone. Every second in the background.
  void removeAbandoned();
  // How many containers' creators it still watches (for tests).
  size_t creatorsWatched() const {
    std::lock_guard lock(creatorsMutex_);
    return creators_.size();
  }
  bool start(const std::string& ref, Deadline deadline) { return lifecycle_.start(ref, deadline); }
  bool stop(const std::string& ref, int timeoutSeconds, const std::string& signal, Deadline deadline) {
    return lifecycle_.stop(ref, timeoutSeconds, signal, deadline);
  }
  void restart(const std::string& ref, int timeoutSeconds, const std::string& signal, Deadline deadline) {
    lifecycle_.restart(ref, timeoutSeconds, signal, deadline);
  }
  void kill(const std::string& ref, const std::string& signal, Deadline deadline) { lifecycle_.kill(ref, signal, deadline); }
  void pause(const std::string& ref, Deadline deadline) { lifecycle_.pause(ref, deadline); }
  void unpause(const std::string& ref, Deadline deadline) { lifecycle_.unpause(ref, deadline); }
  void remove(const std::string& ref, bool force, bool removeVolumes, Deadline deadline) {
    lifecycle_.remove(ref, force, removeVolumes, deadline);
  }
  void rename(const std::string& ref, const std::string& newName) { lifecycle_.rename(ref, newName); }
  void setNetwork(const std::string& ref, const std::string& network, const nlohmann::json& endpointConfig, bool connect,
                  Deadline deadline) {
    networks_.plan(ref, network, endpointConfig, connect, deadline);
  }
  // condition: "not-running" (default), "next-exit", "removed"; see ExitWatch::wait.
  WaitResult wait(const std::string& ref, const std::string& condition, int64_t afterExits,
                  std::chrono::milliseconds waitFor) const {
    return exits_.wait(ref, condition, afterExits, waitFor);
  }
  void resize(const std::string& ref, uint32_t height, uint32_t width, Deadline deadline);
  nlohmann::json prune(const nlohmann::json& filters, Deadline deadline);
  std::vector<std::string> update(const std::string& ref, const nlohmann::json& body, Deadline deadline) {
    return resources_.update(ref, body, deadline);
  }

  nlohmann::json inspect(const std::string& ref) const { return views_.inspect(ref); }
  // inspect -s: the same document with SizeRw and SizeRootFs (see LayerOperations::addSizes).
  nlohmann::json inspectWithSize(const std::string& ref, Deadline deadline) const;
  nlohmann::json list(const ListOptions& options, Deadline deadline) const;
  // What the views channel of the API's read model renders and observes (container_view_feed.h).
  const ContainerViews& views() const { return views_; }
  ExecProcesses& execs() { return execs_; }
  // inspect and list as the JSON text the replies carry, from each record's kept rendering.
  std::string inspectText(const std::string& ref) const { return views_.inspectText(ref); }
  std::string listText(const ListOptions& options, Deadline deadline) const;
  nlohmann::json stats(const std::string& ref) const { return views_.stats(ref); }
  nlohmann::json top(const std::string& ref, const std::string& psArgs, Deadline deadline) const {
    return views_.top(ref, psArgs, deadline);
  }

  std::string execCreate(const std::string& ref, const nlohmann::json& body) { return execs_.create(ref, body); }
  nlohmann::json execInspect(const std::string& execId) const { return execs_.inspect(execId); }
  void execResize(const std::string& execId, uint32_t height, uint32_t width, Deadline deadline) {
    execs_.resize(execId, height, width, deadline);
  }
  ExecRecord execStart(const std::string& execId, ExecIo* io, Deadline deadline) {
    return execs_.start(execId, io, deadline);
  }
  int execFinish(const std::string& execId) { return execs_.finish(execId); }
  std::string execFifoBase(const std::string& execId) const { return execs_.fifoBase(execId); }

  std::vector<ContainerLayers::Change> changes(const std::string& ref, Deadline deadline) {
    return layerOps_.changes(ref, deadline);
  }
  ContainerLayers::Download exportBegin(const std::string& ref, Deadline deadline) {
    return layerOps_.exportBegin(ref, deadline);
  }
  std::string commit(const std::string& ref, const LayerOperations::CommitRequest& request, Deadline deadline) {
    return layerOps_.commit(ref, request, deadline);
  }

  AttachTarget attachTarget(const std::string& ref) const { return views_.attachTarget(ref); }
  // The log an auto-removal kept for a while (ContainerStore::remove), by full id.
  std::optional<std::string> removedLogOf(const std::string& id) const { return e_.store.removedLogOf(id); }
  std::string keptLogPath(const std::string& id) const { return e_.store.keptLogPath(id); }
  FilesystemAccess filesystemAccess(const std::string& ref, Deadline deadline) { return files_.access(ref, deadline); }
  // End-of-file on the stdin of a container's process (execId empty) or of an exec: the shim
  // holds a writer of its own, so closing ours is not enough.
  void closeStdin(const std::string& id, const std::string& execId);
  // Blocks until the container's exit count passes `exits` and that exit is announced (its
  // "die" said), or `timeout`; true when it did.
  bool waitExitAfter(const std::string& id, int64_t exits, std::chrono::milliseconds timeout) const {
    return exits_.exitAfter(id, exits, timeout);
  }

 private:
  // ContainerRuns
  void watchRun(const ContainerRecord& record, const ExitHandler::FollowPoint& since) override;
  void forgetContainer(const std::string& id) override;

  Edges e_;
  OperationLocks locks_;
  RestartBackoff backoff_;
  ExitWatch exits_;
  VolumeAttachments volumes_;
  ContainerNetworks networks_;
  RuntimeTeardown teardown_;
  TaskLauncher launcher_;
  ExitHandler exitHandler_;
  ExecReaper reaper_;
  ExecProcesses execs_;
  HealthMonitor health_;
  ContainerViews views_;
  ResourceUpdates resources_;
  FilesystemAccessor files_;
  ContainerLifecycle lifecycle_;
  ContainerRestorer restorer_;
  LayerOperations layerOps_;
  StrayShims strays_;
  mutable std::mutex creatorsMutex_;
  std::map<std::string, pid_t> creators_;  // container id -> the API process that created it
  std::atomic<bool> stopping_{false};
};

}  // namespace berth::bridge
