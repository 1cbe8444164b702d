// The values the containers core hands to its callers (the RPC adapter in main.cc, the stream
// server) and the few it is configured with.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "services/containerd-bridge/container_status.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/containerd.h"

namespace berth::bridge {

// Publishes a container event: action, the container's record, extra attributes.
using EventSink =
    std::function<void(const std::string& action, const ContainerRecord& record, std::map<std::string, std::string> extra)>;

struct ServicePaths {
  std::string runDir;        // <exec-root>/containers: rootfs mounts, fifos, logger markers
  std::string loggerBinary;  // berth-logger
  std::string initBinary;    // for --init: docker-init or tini-static; empty when none is installed
  std::string cgroupParent = "berth";
  // containerd's socket and berth's namespace in it: what the shims' command lines name. Empty
  // (unit tests): no sweep for stray shims.
  std::string containerdSocket;
  std::string containerdNamespace = "berth";

  std::string runDirOf(const std::string& id) const { return runDir + "/" + id; }
  std::string rootfsOf(const std::string& id) const { return runDirOf(id) + "/rootfs"; }
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
  ContainerStatus status = ContainerStatus::created;
  int64_t exits = 0;
  bool logReadable = true;  // false with the none log driver: docker logs refuses, as dockerd
};

struct ExecRecord {
  std::string id;
  std::string containerId;
  nlohmann::json config;  // Docker's exec config (Cmd, Env, User, WorkingDir, Tty, Attach*)
  bool running = false;
  bool started = false;
  std::optional<int> exitCode;
  int pid = 0;
  uint64_t sequence = 0;  // creation order, for keeping the newest finished ones
};

// An attached exec's fifos, made by the caller. A start that fails once containerd was asked
// for the process takes them (clears these): they go with the process (ExecReaper::remove).
struct ExecIo {
  std::string stdinFifo, stdoutFifo, stderrFifo;  // empty when not attached
  bool tty = false;
};

// What berth-archive needs to assemble the filesystem docker cp sees, and the container's
// operation lock, held for the whole copy as dockerd holds the container (no start, stop or
// removal meanwhile).
struct FilesystemAccess {
  std::string id;
  std::string rootfs;                              // where the root filesystem is (or goes)
  std::optional<Mount> mount;                      // set when it is not mounted (stopped)
  bool readonlyRootfs = false;
  nlohmann::json binds = nlohmann::json::array();  // [{source, destination, readonly}]
  std::string user;                                // Config.User, for cp -a
  std::shared_ptr<std::mutex> lock;
  std::unique_lock<std::mutex> hold;
};

struct ListOptions {
  bool all = false;
  int limit = -1;
  nlohmann::json filters = nlohmann::json::object();  // name -> [values]
  bool size = false;                                  // SizeRw and SizeRootFs in each entry (ps -s)
};

}  // namespace berth::bridge
