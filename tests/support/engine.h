// A real berth engine for integration tests: its own data root, exec root, socket and (later)
// bridge name under a fresh temp dir; started through berth-supervisor exactly as the README's
// run command does; stopped with SIGTERM by pid. The supervisor's READY=1 arrives on a
// NOTIFY_SOCKET the fixture listens on, as systemd would.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace berth::test {

struct ChildInfo {
  pid_t pid = 0;
  std::string state;
  unsigned restarts = 0;
};

class Engine {
 public:
  struct Options {
    std::vector<std::string> extraArgs;
    std::string configJson;  // written to a file passed with --config-file when set
    bool waitReady = true;
    std::string root;  // reuse this existing directory (an earlier engine's) instead of a new one
    // Run the whole engine (supervisor, services, containerd, its containers on the host's
    // network) in a network namespace of its own with only loopback, up: what any test that
    // makes bridges, veths or rules must do, so nothing appears on the machine's interfaces.
    // The namespace ends with the engine's processes. The CLI still reaches the engine's unix
    // socket; a registry on the machine's 127.0.0.1 is out of its reach.
    bool ownNetworkNamespace = false;
    // The test kills and restarts the supervisor itself (crashSupervisor, restartSupervisor).
    // The API socket is then bound by the test and passed to every supervisor with -H fd://,
    // as systemd's socket unit holds it, so no client is refused while no supervisor runs; and
    // with ownNetworkNamespace the namespace is held by a process of the test's, so the next
    // supervisor joins the namespace its containers' links are in.
    bool restartable = false;
    // NAME=value entries the supervisor gets over the test's own environment.
    std::vector<std::string> env;
  };

  Engine();
  explicit Engine(Options options);
  ~Engine();

  const std::string& root() const { return root_; }
  std::string dataRoot() const { return root() + "/data"; }
  std::string execRoot() const { return root() + "/run"; }
  std::string socketPath() const { return execRoot() + "/docker.sock"; }
  std::string dockerHost() const { return "unix://" + socketPath(); }
  std::string logPath() const { return root() + "/engine.log"; }
  // The default bridge's link: unique per engine inside its own network namespace; "none"
  // (no default bridge) for an engine on the machine's network.
  std::string bridgeName() const;
  // restartable engines in a namespace of their own: /proc/PID/ns/net of the holder ("" else).
  std::string networkNamespacePath() const;
  // The engine's aardvark-dns resolvers (user networks' names): the primary slot's ("") or the
  // standby's ("standby/"), 0 when none runs.
  pid_t resolverPid(const std::string& slot = "") const;
  std::vector<std::string> args() const;
  pid_t pid() const { return supervisor_ ? supervisor_->pid() : 0; }

  // Waits for READY=1 from the supervisor; false on timeout or early exit.
  bool waitReady(std::chrono::milliseconds timeout);
  // SIGTERM, then waits; returns the raw wait status (nullopt on timeout).
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // restartable engines: kill -9 of the supervisor, then waits until it and the six children
  // it listed are gone; returns how long the children took, and throws when one outlives
  // `within`.
  // `killedAt`, when given, gets the moment of the kill itself (listing the children first takes
  // a berthctl run).
  std::chrono::milliseconds crashSupervisor(std::chrono::milliseconds within = std::chrono::seconds(5),
                                            std::chrono::steady_clock::time_point* killedAt = nullptr);
  // restartable engines: a new supervisor on the same roots, socket and namespace (what
  // systemd's Restart= does); throws when it is not ready in 60 s.
  void restartSupervisor();

  CommandResult docker(const std::vector<std::string>& args, std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // The docker CLI's stdout when it exits 0; otherwise a line naming the command, its exit code
  // and stderr, which equals no expected output: a failing CLI prints nothing on stdout, and
  // that must never read as "no containers" or "no images".
  std::string output(const std::vector<std::string>& args, std::chrono::milliseconds timeout = std::chrono::seconds(60));
  CommandResult berthctl(const std::vector<std::string>& args);
  // The supervisor's child table from `berthctl status`; throws when berthctl fails or lists
  // fewer than the six children, so a failure never reads as "pid 0".
  std::map<std::string, ChildInfo> children();
  // One child's pid from that table; throws unless it is a live process (> 1).
  pid_t childPid(const std::string& name);
  // Waits until the supervisor lists child `name` running under a pid other than `old`;
  // returns that pid, and throws (with the engine's log) when it is not back in `within`.
  pid_t awaitRestart(const std::string& name, pid_t old, std::chrono::milliseconds within = std::chrono::seconds(30));
  // kill -9 of one child, then awaitRestart.
  pid_t killAndAwaitRestart(const std::string& name, std::chrono::milliseconds within = std::chrono::seconds(30));
  // Calls health on the RPC endpoint of each service that has one (all but the API, which
  // answers HTTP); returns the pid each one reports, and throws naming the first service that
  // does not answer within `deadline`.
  std::map<std::string, pid_t> serviceHealth(std::chrono::milliseconds deadline = std::chrono::seconds(2));
  std::string log() const { return readText(logPath()); }

 private:
  void endResolver();
  void spawnSupervisor();

  Options options_;
  std::optional<TempDir> dir_;
  std::string root_;
  int notifyFd_ = -1;
  std::string notifyPath_;
  std::unique_ptr<Spawned> supervisor_;
  int listenFd_ = -1;                         // restartable: the API socket the test holds
  std::unique_ptr<Spawned> namespaceHolder_;  // restartable with ownNetworkNamespace
};

}  // namespace berth::test
