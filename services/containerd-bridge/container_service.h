// The containers core of the containerd-bridge: Docker's container lifecycle (create, start,
// stop, kill, pause, wait, remove, rename, exec) on containerd tasks, exit handling with
// restart policies, and restore when the bridge starts (dockerd's daemon.restore() is the
// model). It knows neither Cap'n Proto nor HTTP: main.cc adapts it to RPC and the stream
// server to byte streams, and tests can drive it directly.
//
// Locking: every record change goes through the store (snapshots for readers). Operations on
// one container are serialised by that container's operation lock; exit handling does not take
// it, so a stop can wait for the exit it caused.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/errors.h"
#include "services/containerd-bridge/container_stats.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/containerd_client.h"

namespace berth::bridge {

// What the bridge needs from the images service (an RPC client in production).
class ImagePort {
 public:
  virtual ~ImagePort() = default;
  struct Image {
    std::string id;        // "sha256:..."
    nlohmann::json config;  // the image config document
  };
  // notFound "No such image: REF" when unknown.
  virtual Image inspect(const std::string& ref) = 0;
  // The container's writable layer over `image` (created on first call, pinned image).
  virtual std::vector<ContainerdClient::Mount> prepareRootfs(const std::string& container, const std::string& image) = 0;
  virtual void releaseRootfs(const std::string& container) = 0;
};

// Publishes a container event: action, the container's record, extra attributes.
using EventSink =
    std::function<void(const std::string& action, const ContainerRecord& record, std::map<std::string, std::string> extra)>;

struct ServicePaths {
  std::string runDir;        // <exec-root>/containers: rootfs mounts, fifos, logger markers
  std::string loggerBinary;  // berth-logger
  std::string archiveBinary; // berth-archive (docker cp)
  std::string initBinary;    // for --init: docker-init or tini-static; empty when none is installed
  std::string cgroupParent = "berth";
};

struct WaitResult {
  std::string id;
  bool done = false;
  int64_t statusCode = 0;
  std::string error;
  int64_t exits = 0;  // the baseline to pass back on the next call
};

// What a stream (attach) needs to know about a container.
struct AttachTarget {
  std::string id;
  bool tty = false;
  bool openStdin = false;
  bool stdinOnce = false;
  std::string logPath;
  std::string stdinFifo;
  std::string loggerDone;
  std::string status;
  int64_t exits = 0;
};

struct ExecRecord {
  std::string id;
  std::string containerId;
  nlohmann::json config;  // Docker's exec config (Cmd, Env, User, WorkingDir, Tty, Attach*)
  bool running = false;
  bool started = false;
  std::optional<int> exitCode;
  int pid = 0;
};

// What berth-archive needs to assemble the filesystem docker cp sees, and the container's
// operation lock, held for the whole copy as dockerd holds the container (no start, stop or
// removal meanwhile).
struct FilesystemAccess {
  std::string id;
  std::string rootfs;                                  // where the root filesystem is (or goes)
  std::optional<ContainerdClient::Mount> mount;        // set when it is not mounted (stopped)
  bool readonlyRootfs = false;
  nlohmann::json binds = nlohmann::json::array();      // [{source, destination, readonly}]
  std::string user;                                    // Config.User, for cp -a
  std::shared_ptr<std::mutex> lock;
  std::unique_lock<std::mutex> hold;
};

class ContainerService {
 public:
  ContainerService(ContainerStore& store, ContainerdClient& containerd, ImagePort& images, EventSink events,
                   ServicePaths paths);
  ~ContainerService();

  // dockerd's restore(): reattach to live tasks, record exits missed while the bridge was
  // down, apply restart policies, finish interrupted removals (dead), auto-remove.
  void restore();
  // Engine shutdown without live-restore: stops every running container (StopSignal, then
  // SIGKILL after its stop timeout, capped by `timeout`).
  void shutdown(std::chrono::seconds timeout);

  struct Created {
    std::string id;
    std::vector<std::string> warnings;
  };
  // body: Docker's create request (Config fields + HostConfig + NetworkingConfig).
  Created create(const std::string& name, const nlohmann::json& body);
  // false when it was already running (304).
  bool start(const std::string& ref);
  // timeout < 0: the container's StopTimeout (default 10 s). false when it was not running.
  bool stop(const std::string& ref, int timeoutSeconds, const std::string& signal);
  void restart(const std::string& ref, int timeoutSeconds, const std::string& signal);
  void kill(const std::string& ref, const std::string& signal);
  void pause(const std::string& ref);
  void unpause(const std::string& ref);
  // condition: "not-running" (default), "next-exit", "removed". afterExits < 0 on the first
  // call; waits up to `wait` for the condition.
  WaitResult wait(const std::string& ref, const std::string& condition, int64_t afterExits,
                  std::chrono::milliseconds wait);
  void remove(const std::string& ref, bool force);
  void rename(const std::string& ref, const std::string& newName);
  void resize(const std::string& ref, uint32_t height, uint32_t width);
  nlohmann::json top(const std::string& ref, const std::string& psArgs);
  nlohmann::json prune(const nlohmann::json& filters);
  // One stats sample (see ContainerdBridge.stats); zeros when the container is not running.
  nlohmann::json stats(const std::string& ref) const;
  // docker update: Docker's UpdateConfig; the warnings dockerd would give.
  std::vector<std::string> update(const std::string& ref, const nlohmann::json& body);

  nlohmann::json inspect(const std::string& ref) const;
  struct ListOptions {
    bool all = false;
    int limit = -1;
    nlohmann::json filters = nlohmann::json::object();  // name -> [values]
  };
  nlohmann::json list(const ListOptions& options) const;

  // exec
  std::string execCreate(const std::string& ref, const nlohmann::json& body);
  nlohmann::json execInspect(const std::string& execId) const;
  void execResize(const std::string& execId, uint32_t height, uint32_t width);
  struct ExecIo {
    std::string stdinFifo, stdoutFifo, stderrFifo;  // empty when not attached
    bool tty = false;
  };
  // Starts an exec; `io` null for a detached one. Throws conflict when already started.
  ExecRecord execStart(const std::string& execId, const ExecIo* io);
  // Waits for an exec's exit, records it (exec_die) and removes it from containerd.
  int execFinish(const std::string& execId);
  std::string execFifoBase(const std::string& execId) const;

  AttachTarget attachTarget(const std::string& ref) const;
  // docker cp: the container's filesystem for berth-archive (see FilesystemAccess).
  FilesystemAccess filesystemAccess(const std::string& ref);
  // End-of-file on the stdin of a container's process (execId empty) or of an exec: the shim
  // holds a writer of its own, so closing ours is not enough.
  void closeStdin(const std::string& id, const std::string& execId);
  // Blocks until the container's exit count passes `exits` or `timeout`; true when it did.
  bool waitExitAfter(const std::string& id, int64_t exits, std::chrono::milliseconds timeout) const;

 private:
  std::shared_ptr<std::mutex> opLock(const std::string& id);
  void startLocked(ContainerRecord record);
  void monitor(const std::string& id, int64_t startedExits);
  // The health check of one run of a container (container_health.cc).
  void monitorHealth(const std::string& id, int64_t startedExits);
  nlohmann::json runProbe(const ContainerRecord& record, const std::vector<std::string>& command,
                          std::chrono::nanoseconds timeout);
  // containerd's /tasks/oom events: State.OOMKilled and the "oom" event, as dockerd records them.
  void watchOomEvents();
  void handleExit(const std::string& id, ContainerdClient::Exit exit);
  void cleanupRuntime(const std::string& id);
  void scheduleRestart(const std::string& id, std::chrono::milliseconds delay);
  void removeLocked(const ContainerRecord& record);
  bool stopLocked(const ContainerRecord& record, int timeoutSeconds, const std::string& signal);
  void signalUnlessExited(const ContainerRecord& record, int signal, bool all);
  std::string rootfsPath(const std::string& id) const { return paths_.runDir + "/" + id + "/rootfs"; }
  std::string runDirOf(const std::string& id) const { return paths_.runDir + "/" + id; }
  void spawnThread(std::function<void()> fn);

  ContainerStore& store_;
  ContainerdClient& containerd_;
  ImagePort& images_;
  EventSink events_;
  ServicePaths paths_;
  CgroupLayout cgroups_ = detectCgroupLayout();

  mutable std::mutex mutex_;  // opLocks_, execs_, removed_, backoff_, exit notification
  mutable std::condition_variable exited_;
  std::map<std::string, std::shared_ptr<std::mutex>> opLocks_;
  std::map<std::string, ExecRecord> execs_;
  std::map<std::string, int64_t> removedExitCodes_;  // for wait condition=removed
  std::map<std::string, std::chrono::milliseconds> backoff_;
  std::atomic<bool> stopping_{false};
  std::mutex threadsMutex_;
  std::vector<std::thread> threads_;
};

// HostConfig.RestartPolicy, validated as dockerd does at create and update.
struct RestartPolicy {
  std::string name;  // "", "no", "always", "unless-stopped", "on-failure"
  int maxRetries = 0;

  static RestartPolicy of(const nlohmann::json& hostConfig) {
    RestartPolicy p;
    if (!hostConfig.contains("RestartPolicy") || !hostConfig["RestartPolicy"].is_object()) return p;
    const auto& j = hostConfig["RestartPolicy"];
    p.name = j.value("Name", "");
    p.maxRetries = j.value("MaximumRetryCount", 0);
    return p;
  }
  void validate() const {
    static const std::set<std::string> names = {"", "no", "always", "unless-stopped", "on-failure"};
    if (!names.count(name)) {
      throw Error(ErrorKind::invalid, "invalid restart policy: unknown policy '" + name +
                                          "'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'");
    }
    if (maxRetries < 0) throw Error(ErrorKind::invalid, "invalid restart policy: maximum retry count cannot be negative");
    if (maxRetries > 0 && name != "on-failure") {
      throw Error(ErrorKind::invalid, "invalid restart policy: maximum retry count can only be used with 'on-failure'");
    }
  }
  bool none() const { return name.empty() || name == "no"; }
  // dockerd's restartmanager.ShouldRestart, after an exit.
  bool shouldRestart(int exitCode, bool manuallyStopped, int restartCount) const {
    if (manuallyStopped || none()) return false;
    if (name == "always" || name == "unless-stopped") return true;
    if (name == "on-failure") return exitCode != 0 && (maxRetries == 0 || restartCount < maxRetries);
    return false;
  }
};

// "SIGTERM", "TERM", "15", "term": the signal number; invalid otherwise.
int parseSignal(const std::string& text);
// Docker's units.HumanDuration ("Less than a second", "3 minutes", "About an hour").
std::string humanDuration(std::chrono::seconds d);
// The strings of a JSON array (other elements and non-arrays give nothing).
std::vector<std::string> stringsOf(const nlohmann::json& j);
// True when Config.Healthcheck names a probe (not absent, empty or ["NONE"]).
bool hasHealthCheck(const nlohmann::json& config);
// dockerd's Config after create: the image's defaults merged under the container's.
nlohmann::json mergeImageConfig(nlohmann::json config, const nlohmann::json& imageConfig);

}  // namespace berth::bridge
