// What users do to containers, as dockerd does it: create, start, stop, restart, kill, pause,
// unpause, remove, rename, prune, and the restarts and removals that exit handling asks for.
// Every operation takes the container's operation lock, asks the state machine
// (container_status.h) whether it may proceed, and changes the record only through the store's
// read-modify-write with a lifecycle event. Starting a process is TaskLauncher's work, tearing
// a runtime down RuntimeTeardown's, and exits ExitHandler's.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_types.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/exit_handler.h"
#include "services/containerd-bridge/exit_watch.h"
#include "services/containerd-bridge/image_layers.h"
#include "services/containerd-bridge/operation_locks.h"
#include "services/containerd-bridge/restart_policy.h"
#include "services/containerd-bridge/runtime_teardown.h"
#include "services/containerd-bridge/task_launcher.h"
#include "services/containerd-bridge/volume_attachments.h"

namespace berth::bridge {

// What else follows a container's runs: the watchers of each run (its exit, its health
// checks), and the state of a removed container kept elsewhere (its exec records).
class ContainerRuns {
 public:
  virtual ~ContainerRuns() = default;
  // `since`: ExitHandler::followPoint() from before the run's task started.
  virtual void watchRun(const ContainerRecord& record, const ExitHandler::FollowPoint& since) = 0;
  virtual void forgetContainer(const std::string& id) = 0;
};

class ContainerLifecycle final : public ExitFollowUp {
 public:
  struct Parts {
    ContainerStore& store;
    ContainerdTasks& tasks;
    ImageLayers& images;
    TaskLauncher& launcher;
    RuntimeTeardown& teardown;
    VolumeAttachments& volumes;
    ContainerNetworks& networks;
    ExitWatch& exits;
    OperationLocks& locks;
    RestartBackoff& backoff;
    ExitHandler& exitHandler;
    ContainerRuns& runs;
    const EventSink& events;
    const ServicePaths& paths;
  };
  explicit ContainerLifecycle(Parts parts) : p_(parts) {}

  struct Created {
    std::string id;
    std::vector<std::string> warnings;
  };
  // body: Docker's create request (Config fields + HostConfig + NetworkingConfig). `id`, when
  // the caller chose one, makes the create idempotent: a container that has it is answered.
  Created create(const std::string& name, const nlohmann::json& body, Deadline deadline, const std::string& id = "");
  // false when it was running already (304).
  bool start(const std::string& ref, Deadline deadline);
  // timeout < 0: the container's StopTimeout (default 10 s). false when it was not running.
  bool stop(const std::string& ref, int timeoutSeconds, const std::string& signal, Deadline deadline);
  void restart(const std::string& ref, int timeoutSeconds, const std::string& signal, Deadline deadline);
  void kill(const std::string& ref, const std::string& signal, Deadline deadline);
  void pause(const std::string& ref, Deadline deadline);
  void unpause(const std::string& ref, Deadline deadline);
  // removeVolumes: docker rm -v, the container's anonymous volumes go too.
  void remove(const std::string& ref, bool force, bool removeVolumes, Deadline deadline);
  void rename(const std::string& ref, const std::string& newName);

  // The engine's start (restore): a container whose policy boots it with the engine.
  void boot(const std::string& id);
  // The restore found a stopped task under a record that says the container does not run (a
  // deletion after the exit that the last bridge did not finish): deleted under the container's
  // lock, unless a start or removal came first.
  void deleteLeftTask(const std::string& id);
  // Engine shutdown without live-restore: stops the container as the engine, not a user
  // ("always" starts it again on the next engine start).
  void stopForShutdown(const std::string& id, int timeoutSeconds);

  // ExitFollowUp
  void restartByPolicy(const std::string& id) override;
  void autoRemove(const std::string& id) override;

 private:
  void startLocked(const std::string& id, Deadline deadline);
  bool stopLocked(const ContainerRecord& record, int timeoutSeconds, const std::string& signal, Deadline deadline);
  void freezeOrThaw(const std::string& ref, bool freeze, Deadline deadline);
  // `force`: a task found still running (a record that said otherwise) is killed first.
  void removeLocked(const std::string& id, bool force, bool removeVolumes, Deadline deadline);
  void ensureRuntimeGone(const std::string& id, bool force, Deadline deadline);
  // A failed kill of a container that was exiting anyway (its task gone, or its shim closing)
  // is the exit the signal was for.
  void signalUnlessExited(const ContainerRecord& record, int signal, bool all, Deadline deadline);
  std::shared_ptr<std::mutex> lockOf(const std::string& id) { return p_.locks.of(id); }

  Parts p_;
};

}  // namespace berth::bridge
