#include "tests/support/engine.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace berth::test {

Engine::Engine() : Engine(Options{}) {}

Engine::Engine(Options options) : options_(std::move(options)) {
  if (options_.root.empty()) {
    dir_.emplace("berth-test");
    root_ = dir_->path();
  } else {
    root_ = options_.root;
  }
  std::string notifyPath = root() + "/notify-" + std::to_string(getpid()) + "-" +
                           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ".sock";
  notifyFd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, notifyPath.c_str(), sizeof addr.sun_path - 1);
  if (bind(notifyFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("bind notify");
  if (!options_.configJson.empty()) {
    std::ofstream(root() + "/daemon.json") << options_.configJson;
  }
  supervisor_ = std::make_unique<Spawned>(args(), std::vector<std::string>{"NOTIFY_SOCKET=" + notifyPath}, logPath());
  if (options_.waitReady && !waitReady(std::chrono::seconds(60))) {
    throw std::runtime_error("engine did not become ready; log:\n" + log());
  }
}

Engine::~Engine() {
  if (supervisor_ && !supervisor_->exited()) {
    stop(std::chrono::seconds(30));
  }
  supervisor_.reset();
  if (notifyFd_ >= 0) close(notifyFd_);
}

std::vector<std::string> Engine::args() const {
  std::vector<std::string> a = {binDir() + "/berth-supervisor", "--data-root", dataRoot(), "--exec-root", execRoot(),
                                "-H", dockerHost()};
  if (!options_.configJson.empty()) {
    a.push_back("--config-file");
    a.push_back(root() + "/daemon.json");
  }
  a.insert(a.end(), options_.extraArgs.begin(), options_.extraArgs.end());
  return a;
}

bool Engine::waitReady(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{notifyFd_, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[4096];
      ssize_t n = recv(notifyFd_, buf, sizeof buf, 0);
      if (n > 0 && std::string(buf, static_cast<size_t>(n)).find("READY=1") != std::string::npos) return true;
    }
    if (supervisor_->exited() || !processAlive(supervisor_->pid())) return false;
  }
  return false;
}

std::optional<int> Engine::stop(std::chrono::milliseconds timeout) {
  supervisor_->signal(SIGTERM);
  return supervisor_->wait(timeout);
}

CommandResult Engine::docker(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {"docker"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {"DOCKER_HOST=" + dockerHost(), "DOCKER_CONFIG=" + root() + "/docker-config"}, timeout);
}

CommandResult Engine::berthctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {binDir() + "/berthctl", "--exec-root", execRoot()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {}, std::chrono::seconds(90));
}

std::map<std::string, ChildInfo> Engine::children() {
  std::map<std::string, ChildInfo> out;
  auto r = berthctl({"status"});
  std::istringstream in(r.out);
  std::string line;
  std::getline(in, line);  // supervisor line
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name, state;
    ChildInfo c;
    std::string uptime;
    fields >> name >> c.pid >> c.state >> uptime >> c.restarts;
    if (!name.empty()) out[name] = c;
  }
  return out;
}

}  // namespace berth::test
