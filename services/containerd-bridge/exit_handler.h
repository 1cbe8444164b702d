// Exit handling: one subscription to containerd's /tasks/exit events serves every running
// container (a thread and a Tasks.Wait each cost 100 calls at every restore), and recording an
// exit tears the runtime down (the task, whose deletion also flushes the log, then containerd's
// container object and the rootfs mount), moves the container to exited or restarting, wakes
// whoever waits for it, emits die, and hands a restart (after the policy's delay) or an
// auto-removal to the lifecycle.
//
// No exit is missed: the subscription is in place before the restore lists containerd's tasks;
// an exit that comes before its container is watched (a start that has not returned) is kept
// for that watch, matched by pid and time; a run started while no subscription was in place,
// and an event that names no pid (containerd's cleanup after a shim died), have the states
// asked for; so does each new subscription (containerd restarted), and every 30 s a check
// looks for what all of that missed.
//
// An exit is recorded only on containerd's word: its event, or the task is stopped, or it is
// absent from both Tasks.Get and Tasks.List. A stream that ends, an unreachable containerd or
// an unknown state means "still running, ask again".
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

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
  // How often checkIfDue() checks when nothing asks for one sooner (30 s).
  void setCheckInterval(std::chrono::milliseconds every) { checkEvery_ = every; }
  // No more restarts by policy: the engine is stopping (its containers' exits are still
  // followed and recorded while it stops them).
  void stop();
  bool stopping() const { return stopping_; }
  // Stops following exits: the bridge goes.
  void end();

  // Where exit following stood when a task was about to start: the subscription then in place
  // (0: none) and the time.
  struct FollowPoint {
    uint64_t subscription = 0;
    std::chrono::steady_clock::time_point at{};
  };

  // Subscribes to containerd's exit events, once (a watch does it too); waits up to `wait` for
  // the subscription to be in place.
  void follow(std::chrono::milliseconds wait = std::chrono::milliseconds(0));
  // Taken before a task starts, it tells watch() whether an exit before the watch may have
  // come as no event, and which kept exits may be this run's.
  FollowPoint followPoint() const;
  // Watches the run of a container that started with exit count `exits` as process `pid`;
  // `since` is followPoint() from before its task started.
  void watch(const std::string& id, int64_t exits, uint32_t pid, const FollowPoint& since);
  // Called every second or so: every 30 s (the check interval), or at once when the last check
  // got no certain answer, asks containerd whether the watched containers still run, for an
  // exit its events missed.
  void checkIfDue();
  // That check at once, whatever the time. False when containerd did not answer.
  bool checkNow() { return check(true); }

  // Records an exit containerd reported. `taskGone`: containerd has no task any more (nothing
  // to delete but the container object). Returns false, recording nothing, when the task turns
  // out to be still running.
  bool recordExit(const std::string& id, TaskExit exit, bool taskGone = false);
  // The exit a bridge learnt and then died before recording (after it deleted the task, which
  // took containerd's copy along): kept in the container's run directory until its next start.
  static std::optional<TaskExit> unrecordedExit(const ServicePaths& paths, const std::string& id);
  static void forgetUnrecordedExit(const ServicePaths& paths, const std::string& id);

 private:
  struct Watched {
    int64_t exits = 0;
    uint32_t pid = 0;
  };
  struct Unclaimed {
    TaskExit exit;
    std::chrono::steady_clock::time_point at;
  };
  // The subscriber: subscribes again whenever the stream ends, until end().
  void followEvents();
  // Has check() run soon, on a thread of its own, once a subscription is in place (one check
  // serves every request made before it reads the watched containers). Under watchMutex_.
  void requestCheckLocked();
  void onExit(const ExitEvent& event);
  // Asks containerd (one listing, then Tasks.Get for each watched container it does not list
  // as alive) and records the exits found. False when containerd did not answer.
  bool check(bool periodic);
  // Stops watching `id` if it is still watched as run `exits`; true when it was.
  bool claim(const std::string& id, int64_t exits);
  // Records the exit of run `exits`, off the subscriber's thread.
  void settle(const std::string& id, int64_t exits, uint32_t pid, TaskExit exit, bool taskGone);
  // containerd's answer for a task `listed` does not show alive: an exit to record, or nullopt
  // to keep waiting.
  std::optional<std::pair<TaskExit, bool>> confirmExit(const std::string& id, const std::vector<TaskListing>& listed);
  bool stillThisRun(const std::string& id, int64_t startedExits) const;
  // Sleeps `delay`, or less when the handler ends.
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
  std::atomic<bool> ended_{false};
  std::mutex pauseMutex_;
  std::condition_variable stopped_;

  mutable std::mutex watchMutex_;
  std::condition_variable subscribedChanged_;
  std::map<std::string, Watched> watched_;
  // Exits of containers not (yet) watched as that pid, by container and pid.
  std::map<std::pair<std::string, uint32_t>, Unclaimed> unclaimed_;
  bool following_ = false;
  bool subscribed_ = false;
  uint64_t generation_ = 0;     // counts subscriptions put in place
  bool checkPending_ = false;  // a requested check has not read watched_ yet
  bool checkSoon_ = false;     // the last check failed, or an exit event was spent in vain
  std::chrono::steady_clock::time_point lastCheck_ = std::chrono::steady_clock::now();
  std::chrono::milliseconds checkEvery_{std::chrono::seconds(30)};
};

}  // namespace berth::bridge
