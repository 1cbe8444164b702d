// What the containers core does to the host outside containerd (mounting a container's root
// filesystem, reading the host's name-service files, starting a detached logger) and how it
// runs work in the background (monitors, restart delays). Production uses the real ones;
// unit tests use fakes that record and control them.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "services/containerd-bridge/containerd.h"

namespace berth::bridge {

class HostOps {
 public:
  virtual ~HostOps() = default;
  // Mounts the container's layer (one overlay mount) at `target`; nothing when mounted already.
  virtual void mountRootfs(const std::vector<Mount>& mounts, const std::string& target) = 0;
  // Unmounts whatever is stacked at `target` (lazily); nothing when nothing is.
  virtual void unmountRootfs(const std::string& target) = 0;
  virtual bool mounted(const std::string& target) = 0;
  // A host file the container gets a copy of (/etc/hosts, /etc/resolv.conf); empty when absent.
  virtual std::string readHostFile(const std::string& path) = 0;
  // What is at `path` (absolute, as the container sees it) in the root filesystem mounted at
  // `rootfs`, resolved as in the container: a symbolic link cannot lead out of `rootfs`.
  struct RootfsEntry {
    enum class Kind { absent, directory, other };
    Kind kind = Kind::absent;
    std::string hostPath;  // where it is on the host (set unless absent)
  };
  virtual RootfsEntry lookupInRootfs(const std::string& rootfs, const std::string& path) = 0;
  // After the container's process exited: asks the container's logger to write out what its
  // pipes hold and mark the log whole (berth-logger's SIGUSR1), and waits up to `timeout` for
  // the mark. False when there is no such logger (a terminal, fifos, a logger started by an
  // older bridge) or it did not answer in time: the log is then whole only once containerd
  // deleted the task, which closes the pipes.
  virtual bool drainLogger(const std::string& runDir, std::chrono::milliseconds timeout) = 0;
  // Starts `argv` detached from the caller (its own session, stdio on /dev/null, reaped by the
  // supervisor, a child subreaper), and returns once it runs.
  virtual void spawnDetached(const std::vector<std::string>& argv) = 0;
};

// Where a container's logger writes its pid, when the bridge may ask it to drain.
inline std::string loggerPidFile(const std::string& runDir) { return runDir + "/logger.pid"; }

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // Runs `fn` on a thread of its own (the exit follower blocks for the bridge's whole life).
  virtual void run(std::function<void()> fn) = 0;
  // Runs `fn` after `delay`.
  virtual void after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
};

class SystemHostOps final : public HostOps {
 public:
  void mountRootfs(const std::vector<Mount>& mounts, const std::string& target) override;
  void unmountRootfs(const std::string& target) override;
  bool mounted(const std::string& target) override;
  std::string readHostFile(const std::string& path) override;
  RootfsEntry lookupInRootfs(const std::string& rootfs, const std::string& path) override;
  bool drainLogger(const std::string& runDir, std::chrono::milliseconds timeout) override;
  void spawnDetached(const std::vector<std::string>& argv) override;
};

// Detached threads: the process ends without joining them (every record write is atomic).
class ThreadScheduler final : public Scheduler {
 public:
  void run(std::function<void()> fn) override;
  void after(std::chrono::milliseconds delay, std::function<void()> fn) override;
};

}  // namespace berth::bridge
