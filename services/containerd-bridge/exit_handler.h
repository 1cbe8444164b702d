// Exit handling: a monitor per run of a container waits for containerd to report its task's
// exit, then records it. Recording an exit tears the runtime down (the task, whose deletion
// also flushes the log, then containerd's container object and the rootfs mount), moves the
// container to exited or restarting, wakes whoever waits for it, emits die, and hands a
// restart (after the policy's delay) or an auto-removal to the lifecycle.
//
// An exit is recorded only on containerd's word: Wait returned, or the task is stopped, or it
// is absent from both Tasks.Get and Tasks.List. A timeout, an unreachable containerd or an
// unknown state means "still running, ask again".
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>

#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_types.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/exit_watch.h"
#include "services/containerd-bridge/host_ops.h"
#include "services/containerd-bridge/restart_policy.h"
#include "services/containerd-bridge/runtime_teardown.h"

namespace berth::bridge {

// What exit handling hands back to the lifecycle.
class ExitFollowUp {
 public:
  virtual ~ExitFollowUp() = default;
  // The restart policy starts this container (now `restarting`) again.
  virtual void restartByPolicy(const std::string& id) = 0;
  // An exited --rm container is removed.
  virtual void autoRemove(const std::string& id) = 0;
};

class ExitHandler {
 public:
  ExitHandler(ContainerStore& store, ContainerdTasks& tasks, RuntimeTeardown& teardown, ExitWatch& exits,
              RestartBackoff& backoff, Scheduler& scheduler, const EventSink& events, const ServicePaths& paths)
      : store_(store), tasks_(tasks), teardown_(teardown), exits_(exits), backoff_(backoff), scheduler_(scheduler),
        events_(events), paths_(paths) {}

  void setFollowUp(ExitFollowUp* followUp) { followUp_ = followUp; }
  // Monitors end (no more exits recorded or restarts scheduled): the engine is stopping.
  void stop();
  bool stopping() const { return stopping_; }

  // Watches the run of a container that started with exit count `exits`, in the background.
  void watch(const std::string& id, int64_t exits);

  // Records an exit containerd reported. `taskGone`: containerd has no task any more (nothing
  // to delete but the container object). Returns false, recording nothing, when the task turns
  // out to be still running.
  bool recordExit(const std::string& id, TaskExit exit, bool taskGone = false);
  // The exit a bridge learnt and then died before recording (after it deleted the task, which
  // took containerd's copy along): kept in the container's run directory until its next start.
  static std::optional<TaskExit> unrecordedExit(const ServicePaths& paths, const std::string& id);
  static void forgetUnrecordedExit(const ServicePaths& paths, const std::string& id);

 private:
  void monitor(const std::string& id, int64_t startedExits);
  // containerd's answer once Wait failed: an exit to record, or nullopt to keep waiting.
  std::optional<std::pair<TaskExit, bool>> confirmExit(const std::string& id);
  bool stillThisRun(const std::string& id, int64_t startedExits) const;
  // Sleeps `delay`, or less when the handler stops.
  void pause(std::chrono::milliseconds delay);

  ContainerStore& store_;
  ContainerdTasks& tasks_;
  RuntimeTeardown& teardown_;
  ExitWatch& exits_;
  RestartBackoff& backoff_;
  Scheduler& scheduler_;
  const EventSink& events_;
  const ServicePaths& paths_;
  ExitFollowUp* followUp_ = nullptr;
  std::atomic<bool> stopping_{false};
  std::mutex pauseMutex_;
  std::condition_variable stopped_;
};

}  // namespace berth::bridge
