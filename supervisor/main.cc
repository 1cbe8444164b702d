// berth-supervisor: parses the config, runs the setup steps in order, supervises.
//   berth-supervisor [dockerd-style flags]      run the engine in the foreground
//   berth-supervisor --prepare-only [flags]     prepare roots and containerd's config, then exit
//                                               (the systemd unit set's ExecStartPre)
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "common/config.h"
#include "common/version.h"
#include "common/log.h"
#include "supervisor/engine_roots.h"
#include "supervisor/supervisor.h"

using namespace berth;

int main(int argc, char** argv) {
  // Block the signals the supervisor handles before any thread exists; its loop reads them
  // from a signalfd.
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::vector<std::string> args;
  bool prepareOnly = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--prepare-only") {
      prepareOnly = true;
    } else if (a == "--version" || a == "-v") {
      std::cout << "berth version " << BERTH_VERSION << ", build " << gitCommit() << "\n";
      return 0;
    } else {
      args.push_back(a);
    }
  }

  Config config;
  try {
    config = Config::parse(args);
  } catch (const ConfigError& e) {
    std::cerr << "berth-supervisor: " << e.what() << "\n";
    return 2;
  }
  setupLogging("supervisor", config.logLevel);

  try {
    if (prepareOnly) {
      supervisor::prepareRoots(config);
      supervisor::prepareTempDir(config);
      if (config.containerdAddress.empty()) supervisor::writeContainerdConfig(config);
      return 0;
    }
    std::string binDir = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
    // Processes berth starts detached (berth-logger for a container's stdin and fifo output)
    // outlive the service that started them: they are re-parented here and reaped by the
    // supervisor's loop instead of lingering as zombies under a PID 1 that does not reap.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    supervisor::Supervisor s(config, binDir);
    s.lockInstance();
    s.prepareFilesystem();
    s.bindApiSockets();
    s.openNotifySocket();
    s.defineChildren();
    s.startControlEndpoint();
    return s.run();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    std::cerr << "berth-supervisor: " << e.what() << "\n";
    return 1;
  }
}
