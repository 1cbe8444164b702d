// The supervisor: the small parent of containerd and the five berth services. It owns the
// config snapshot, the API's listening sockets and the child table. Its setup steps, in the
// order they run, are the public methods below; run() then supervises until SIGTERM/SIGINT.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/config.h"
#include "common/files.h"
#include "common/notify.h"
#include "ipc/rpc_server.h"
#include "supervisor/api_listeners.h"
#include "supervisor/child.h"
#include "supervisor/instance_lock.h"

namespace berth::supervisor {

class Supervisor {
 public:
  Supervisor(Config config, std::string binDir);
  ~Supervisor();

  // Setup, in order.
  void lockInstance();        // refuse a second engine on the same data root
  void prepareFilesystem();   // roots, temp dir, containerd config
  void bindApiSockets();      // listening sockets held for the API
  void openNotifySocket();    // where children say READY=1 / WATCHDOG=1
  void defineChildren();      // containerd (unless external) and the five services
  void startControlEndpoint();  // berthctl's status/restart

  // Supervises until SIGTERM/SIGINT, then stops children in reverse order. Returns the exit status.
  int run();

 private:
  struct Command {
    std::string restart;  // name of the child to restart
    std::shared_ptr<std::promise<std::string>> done;  // empty string: ok; else an error
  };

  void loop();
  void handleSignal(int sig);
  void reapChildren();
  void readNotifications();
  void runCommands();
  void advance();  // starts/kills/promotes children whose deadline or stage has come
  void startChild(ChildProcess& c);
  void stopChild(ChildProcess& c);
  void onExit(ChildProcess& c, int status);
  ChildProcess* findByPid(pid_t pid);
  ChildProcess* findByName(const std::string& name);
  bool stageReady(int stage) const;
  void completeRestart(ChildProcess& c, const std::string& error);

  void stopContainers();

  Config config_;
  std::string binDir_;
  std::string tmpDir_;
  std::string containerdConfig_;
  std::unique_ptr<InstanceLock> lock_;
  std::vector<ApiListener> listeners_;
  UniqueFd notifyFd_;
  std::string notifyPath_;
  UniqueFd signalFd_;
  UniqueFd wakeFd_;
  SpawnEnvironment spawnEnv_;
  Notifier notifier_;  // to our own manager (systemd), if any

  mutable std::mutex mutex_;  // guards children_ and commands_ against the control thread
  std::vector<ChildProcess> children_;
  std::deque<Command> commands_;
  std::vector<std::pair<std::string, std::shared_ptr<std::promise<std::string>>>> pendingRestarts_;

  zmq::context_t zmq_;
  std::unique_ptr<ipc::RpcServer> control_;
  int64_t startedAtNano_;
  bool announcedReady_ = false;
  bool shuttingDown_ = false;
  int shutdownStage_ = -1;
};

}  // namespace berth::supervisor
