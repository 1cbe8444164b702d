// The container state machine, in one place: the seven statuses a container can be in, what
// each means in Docker's terms (State.Running, Paused, Restarting, Dead), which user operations
// each status admits (with dockerd's error for each one it refuses), and the lifecycle events
// that move a container from one status to the next. Nothing else in the containers core
// compares or assigns a status; the tests in container_status_test.cc have one case per row.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace berth::bridge {

enum class ContainerStatus { created, running, paused, restarting, removing, exited, dead };

// The names Docker shows (State.Status) and berth persists; parseStatus throws invalid for any
// other word.
std::string_view statusName(ContainerStatus status);
ContainerStatus parseStatus(std::string_view name);

// dockerd's flags (container/state.go): Running is true while the container is running, paused
// or restarting; Paused and Restarting qualify it; Dead is a status of its own.
struct StateFlags {
  bool running = false;
  bool paused = false;
  bool restarting = false;
  bool dead = false;
};
StateFlags flagsOf(ContainerStatus status);

// Whether containerd holds a live task for the container in this status (running or paused):
// what a stop, kill, stats or exit applies to.
bool hasLiveTask(ContainerStatus status);

// What a user operation may do to a container in a given status.
enum class Operation {
  start,
  stop,
  kill,
  pause,
  unpause,
  remove,       // docker rm
  removeForce,  // docker rm -f
  exec,         // exec create and start
  resize,
  top,
  update,
  copy,         // docker cp
};

enum class Verdict {
  proceed,      // the operation goes ahead
  alreadyDone,  // nothing to do, and no error (HTTP 304 for start and stop)
};

// The container an admission check speaks of, as dockerd's messages name it.
struct Subject {
  std::string id;    // the full id
  std::string name;  // "/name"
  std::string ref;   // what the client typed
};

// Throws Error(conflict, dockerd's message) when `status` refuses `op`.
Verdict admit(Operation op, ContainerStatus status, const Subject& subject);

// What happens to a container, as opposed to what a user asks of it.
enum class LifecycleEvent {
  taskStarted,          // its task runs (start, restart by policy, boot on engine start)
  startFailed,          // a start did not get a task running
  paused,               // its task is frozen
  unpaused,             // thawed
  exited,               // containerd reported its task stopped or gone (never an unknown state)
  exitedToRestart,      // the same, and the restart policy will start it again
  restartAbandoned,     // a stop arrived while it waited to be restarted
  removalBegun,         // docker rm has begun tearing it down
  removalFailed,        // the teardown could not finish: dockerd marks the container dead
  removalInterrupted,   // restore found a removal that never finished: dockerd makes it dead
  reattachedRunning,    // restore: containerd says its task runs
  reattachedPaused,     // restore: containerd says its task is frozen
};

// The status after `event`, or nullopt when the event does not apply to `from` (an exit
// reported for a container that is no longer running, say) and must leave it alone.
// `hasBeenStarted` decides where a failed start leaves a container: created or exited.
std::optional<ContainerStatus> next(ContainerStatus from, LifecycleEvent event, bool hasBeenStarted = false);

}  // namespace berth::bridge
