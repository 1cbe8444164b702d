// What the containers core needs of containerd, as two small interfaces: its Containers service
// (the registered container objects) and its Tasks service (the running processes). The gRPC
// client implements them against the engine's containerd; unit tests implement them in memory.
//
// The rule these types carry: an unknown task state is never an exit. `TaskState` says whether
// containerd answered that the task is there, that it is not, or nothing certain (a timeout,
// containerd unreachable, or containerd's own status UNKNOWN, which it reports when the shim's
// state call times out). Only the first two may change a container's status.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/deadline.h"

namespace berth::bridge {

// A filesystem mount as containerd and the images service describe one.
struct Mount {
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

// A process's stdio: each a fifo path, a URI (binary://...), or empty for /dev/null.
struct TaskStdio {
  std::string in, out, err;
  bool terminal = false;
};

struct TaskExit {
  uint32_t status = 0;
  int64_t exitedAtNanos = 0;  // 0 when containerd did not say
};

enum class TaskStatus { created, running, stopped, paused, pausing };

// What containerd said about a task (or an exec process).
struct TaskState {
  enum class Answer { present, absent, unknown };
  Answer answer = Answer::unknown;
  TaskStatus status = TaskStatus::created;  // when present
  uint32_t pid = 0;                         // when present
  TaskExit exit;                            // when present and stopped
  std::string why;                          // when unknown: the failure, for logs

  // Its process runs (or is frozen): what a running or paused container reattaches to.
  bool alive() const {
    return answer == Answer::present &&
           (status == TaskStatus::running || status == TaskStatus::paused || status == TaskStatus::pausing);
  }
};

// A process's exit as containerd's /tasks/exit event reports it.
struct ExitEvent {
  std::string containerId;
  std::string processId;  // the container's id for its init process, the exec's id for an exec
  uint32_t pid = 0;
  TaskExit exit;
};

struct TaskListing {
  std::string id;
  TaskStatus status = TaskStatus::created;
  bool statusKnown = true;
  uint32_t pid = 0;
};

// containerd's Containers service in berth's namespace.
class ContainerdContainers {
 public:
  virtual ~ContainerdContainers() = default;
  // Registers a container with its OCI spec (runc v2 runtime). conflict when it exists.
  virtual void create(const std::string& id, const std::string& specJson, Deadline deadline) = 0;
  // Deletes the container object; no error when it is absent. containerd does not check that
  // its task is gone: only RuntimeTeardown calls this, once it knows.
  virtual void remove(const std::string& id, Deadline deadline) = 0;
  virtual std::vector<std::string> list(Deadline deadline) = 0;
};

// containerd's Tasks service in berth's namespace. `execId` empty means the task's init process.
class ContainerdTasks {
 public:
  virtual ~ContainerdTasks() = default;
  // Creates the task; `rootfs` empty when the spec's root path is already mounted. Returns the
  // init pid; start it with start(id, "").
  virtual uint32_t create(const std::string& id, const TaskStdio& stdio, const std::vector<Mount>& rootfs,
                          Deadline deadline) = 0;
  virtual uint32_t start(const std::string& id, const std::string& execId, Deadline deadline) = 0;
  // Adds an exec process (its OCI process spec as JSON) to a running task.
  virtual void exec(const std::string& id, const std::string& execId, const std::string& processJson,
                    const TaskStdio& stdio, Deadline deadline) = 0;
  virtual void kill(const std::string& id, const std::string& execId, int signal, bool all, Deadline deadline) = 0;
  virtual void pause(const std::string& id, Deadline deadline) = 0;
  virtual void resume(const std::string& id, Deadline deadline) = 0;
  // New OCI linux.resources for a running task.
  virtual void update(const std::string& id, const nlohmann::json& resources, Deadline deadline) = 0;
  virtual void resizePty(const std::string& id, const std::string& execId, uint32_t width, uint32_t height,
                         Deadline deadline) = 0;
  // End of file on the process's stdin (the shim holds a writer of its own).
  virtual void closeStdin(const std::string& id, const std::string& execId, Deadline deadline) = 0;
  virtual std::vector<uint32_t> pids(const std::string& id, Deadline deadline) = 0;
  // Never throws: a failure is an `unknown` answer.
  virtual TaskState state(const std::string& id, const std::string& execId, Deadline deadline) = 0;
  // Every task in the namespace (including any whose container object is gone).
  virtual std::vector<TaskListing> list(Deadline deadline) = 0;
  // Blocks until the process exits; deadlineExceeded or unavailable are not exits.
  virtual TaskExit wait(const std::string& id, const std::string& execId, Deadline deadline) = 0;
  // Deletes a stopped task (the shim first waits for the log writer) and returns its exit;
  // nullopt when there is no task; conflict when it still runs.
  virtual std::optional<TaskExit> remove(const std::string& id, Deadline deadline) = 0;
  // Deletes a stopped exec process; no error when it is absent.
  virtual void removeProcess(const std::string& id, const std::string& execId, Deadline deadline) = 0;
  // /tasks/exit events: calls `onSubscribed` once containerd holds the subscription (every exit
  // after that reaches `onExit`), then `onExit` with each, until `keepGoing` turns false or the
  // stream ends (containerd went away); the caller subscribes again then.
  virtual void watchExits(const std::function<void()>& onSubscribed, const std::function<void(const ExitEvent&)>& onExit,
                          const std::function<bool()>& keepGoing) = 0;
  // /tasks/oom events: calls `onOom` with each container id until `keepGoing` turns false or
  // the stream ends (containerd went away); the caller subscribes again then.
  virtual void watchOom(const std::function<void(const std::string&)>& onOom,
                        const std::function<bool()>& keepGoing) = 0;
};

}  // namespace berth::bridge
