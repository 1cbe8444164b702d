// berth's client of containerd's gRPC API (stubs generated from Debian's containerd protos at
// build time). Every call carries a deadline; a containerd that is down or restarting fails
// the call `unavailable`. Namespaced calls use berth's own containerd namespace.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace grpc {
class Channel;
}

namespace berth::bridge {

class ContainerdClient {
 public:
  explicit ContainerdClient(const std::string& socketPath, std::string ns = "berth");

  struct Version {
    std::string version;
    std::string revision;
  };
  Version version(std::chrono::milliseconds timeout);

  struct Mount {
    std::string type;
    std::string source;
    std::vector<std::string> options;
  };
  // Registers a container (its OCI spec, runc v2 runtime) in berth's namespace.
  void createContainer(const std::string& id, const std::string& specJson);
  // Creates its task on `rootfs` with stdout/stderr going to `logUri` (binary://...), starts
  // it, and returns the process's pid.
  uint32_t startTask(const std::string& id, const std::vector<Mount>& rootfs, const std::string& logUri);
  // Waits for the task's exit and returns its status.
  uint32_t waitTask(const std::string& id, std::chrono::milliseconds timeout);
  // Deletes the task (after exit) and the container.
  void deleteContainer(const std::string& id);

  // The task's stdio: each a fifo path or URI (binary://...) or empty for /dev/null.
  struct Stdio {
    std::string in, out, err;
    bool terminal = false;
  };
  // Creates the container's task on the rootfs its spec names (no rootfs mounts: berth mounts
  // the container's layer itself); returns the init pid. Started with startProcess(id, "").
  uint32_t createTask(const std::string& id, const Stdio& stdio);
  uint32_t startProcess(const std::string& id, const std::string& execId);
  // Adds an exec process (its OCI process spec as JSON) to a running task.
  void exec(const std::string& id, const std::string& execId, const std::string& processJson, const Stdio& stdio);
  void kill(const std::string& id, const std::string& execId, int signal, bool all);
  void pause(const std::string& id);
  void resume(const std::string& id);
  // Events.Subscribe to /tasks/oom in berth's namespace: calls `onOom` with the container id of
  // each event until `keepGoing` turns false or the stream breaks (containerd went away); the
  // caller subscribes again then. Returns when the stream ends.
  void watchOom(const std::function<void(const std::string&)>& onOom, const std::function<bool()>& keepGoing);
  // Tasks.Update: new OCI linux.resources for a running task.
  void updateResources(const std::string& id, const nlohmann::json& resources);
  void resizePty(const std::string& id, const std::string& execId, uint32_t width, uint32_t height);
  void closeStdin(const std::string& id, const std::string& execId);
  std::vector<uint32_t> listPids(const std::string& id);

  enum class TaskStatus { unknown, created, running, stopped, paused, pausing };
  struct TaskInfo {
    TaskStatus status = TaskStatus::unknown;
    uint32_t pid = 0;
    uint32_t exitStatus = 0;
    int64_t exitedAtNanos = 0;
  };
  // The task or exec process; nullopt when containerd has no such task.
  std::optional<TaskInfo> task(const std::string& id, const std::string& execId = "");
  struct Exit {
    uint32_t status = 0;
    int64_t exitedAtNanos = 0;
  };
  // Blocks until the process exits (or the deadline passes: deadlineExceeded).
  Exit wait(const std::string& id, const std::string& execId, std::chrono::milliseconds timeout);
  // Deletes a stopped task (the shim waits for the log writer to finish first) and returns
  // its exit; nullopt when there was no task.
  std::optional<Exit> deleteTask(const std::string& id);
  void deleteProcess(const std::string& id, const std::string& execId);
  // Removes the container record; no error when absent.
  void deleteContainerRecord(const std::string& id);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::string namespace_;
};

// `runc --version`'s version and commit lines, or empty strings when runc is missing.
struct RuncVersion {
  std::string version;
  std::string commit;
};
RuncVersion readRuncVersion();

}  // namespace berth::bridge
