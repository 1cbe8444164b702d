#include "tests/support/engine.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/errors.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"

namespace berth::test {

namespace {
const std::vector<std::string> kChildren = {"containerd", "images", "volumes", "network", "containerd-bridge", "api"};

// Under scripts/test-sanitized.sh, UBSan's reports (and ASan's from berth-archive, which has
// no environment) are on the services' stderr, which is the engine's log, which goes with the
// test's directory: a log that holds one is copied to the script's directory first.
void keepSanitizerReports(const std::string& logPath, const std::string& root) {
  const char* dir = std::getenv("BERTH_SANITIZER_LOG_DIR");
  if (dir == nullptr || *dir == '\0') return;
  std::string text = readText(logPath);
  if (text.find("runtime error:") == std::string::npos && text.find("Sanitizer") == std::string::npos) return;
  std::error_code ec;
  std::filesystem::copy_file(logPath, std::string(dir) + "/engine." + std::filesystem::path(root).filename().string() + ".log",
                             std::filesystem::copy_options::overwrite_existing, ec);
}

}  // namespace

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
  notifyPath_ = notifyPath;
  if (options_.restartable) {
    std::filesystem::create_directories(execRoot());
    listenFd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un api{};
    api.sun_family = AF_UNIX;
    std::strncpy(api.sun_path, socketPath().c_str(), sizeof api.sun_path - 1);
    ::unlink(socketPath().c_str());
    if (listenFd_ < 0 || bind(listenFd_, reinterpret_cast<sockaddr*>(&api), sizeof api) != 0 || listen(listenFd_, 4096) != 0) {
      throw std::runtime_error("bind " + socketPath() + ": " + std::strerror(errno));
    }
    if (options_.ownNetworkNamespace) {
      std::string holderLog = root() + "/netns-holder.log";
      namespaceHolder_ = std::make_unique<Spawned>(
          std::vector<std::string>{"unshare", "--net", "--", "sh", "-c", "ip link set lo up && echo up && exec sleep 86400"},
          std::vector<std::string>{}, holderLog);
      if (!waitFor([&] { return readText(holderLog) == "up\n"; }, std::chrono::seconds(10))) {
        throw std::runtime_error("the network namespace holder did not start: " + readText(holderLog));
      }
    }
  }
  spawnSupervisor();
  if (options_.waitReady && !waitReady(std::chrono::seconds(60))) {
    throw std::runtime_error("engine did not become ready; log:\n" + log());
  }
}

void Engine::spawnSupervisor() {
  std::vector<std::string> env = options_.env;
  env.push_back("NOTIFY_SOCKET=" + notifyPath_);
  supervisor_ = std::make_unique<Spawned>(args(), env, logPath(),
                                          listenFd_);
}

std::chrono::milliseconds Engine::crashSupervisor(std::chrono::milliseconds within,
                                                  std::chrono::steady_clock::time_point* killedAt) {
  if (!options_.restartable) throw std::logic_error("crashSupervisor needs Options::restartable");
  std::vector<pid_t> six;
  for (const auto& [name, info] : children()) six.push_back(info.pid);
  if (killedAt) *killedAt = std::chrono::steady_clock::now();
  supervisor_->signal(SIGKILL);
  if (!supervisor_->wait(within)) throw std::runtime_error("the supervisor outlived kill -9");
  auto killed = std::chrono::steady_clock::now();
  if (!waitFor([&] { return std::none_of(six.begin(), six.end(), processAlive); }, within, std::chrono::milliseconds(2))) {
    std::string alive;
    for (pid_t p : six) {
      if (processAlive(p)) alive += " " + std::to_string(p);
    }
    throw std::runtime_error("children outlived the supervisor's kill -9:" + alive);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed);
}

void Engine::restartSupervisor() {
  if (!options_.restartable) throw std::logic_error("restartSupervisor needs Options::restartable");
  spawnSupervisor();
  if (!waitReady(std::chrono::seconds(60))) throw std::runtime_error("the restarted supervisor was not ready; log:\n" + log());
}

Engine::~Engine() {
  if (supervisor_ && !supervisor_->exited()) {
    stop(std::chrono::seconds(30));
  }
  supervisor_.reset();
  keepSanitizerReports(logPath(), root());
  endResolver();
  if (notifyFd_ >= 0) close(notifyFd_);
  if (listenFd_ >= 0) close(listenFd_);
  namespaceHolder_.reset();  // SIGKILL: the namespace ends with its last process
}

std::vector<std::string> Engine::args() const {
  std::vector<std::string> a;
  if (namespaceHolder_) {
    // nsenter execs the supervisor in place, in the namespace the holder keeps.
    a = {"nsenter", "--net=" + networkNamespacePath(), "--"};
  } else if (options_.ownNetworkNamespace) {
    // unshare execs the shell in place and the shell execs the supervisor: the pid stays the
    // supervisor's, so stop() signals it directly.
    a = {"unshare", "--net", "--", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""};
  }
  for (const auto& arg : {binDir() + "/berth-supervisor", std::string("--data-root"), dataRoot(),
                          std::string("--exec-root"), execRoot(), std::string("-H"),
                          listenFd_ >= 0 ? std::string("fd://") : dockerHost()}) {
    a.push_back(arg);
  }
  if (!options_.configJson.empty()) {
    a.push_back("--config-file");
    a.push_back(root() + "/daemon.json");
  }
  // A bridge only inside a namespace of the test's own, each engine's named apart; elsewhere
  // none (dockerd's -b none: the default network is a namespace with loopback only), so no test
  // engine makes a link on the machine's own interfaces.
  bool bridgeGiven = options_.configJson.find("\"bridge\"") != std::string::npos;
  for (const auto& arg : options_.extraArgs) bridgeGiven = bridgeGiven || arg == "--bridge" || arg.rfind("--bridge=", 0) == 0;
  if (!bridgeGiven) {
    a.push_back("--bridge");
    a.push_back(bridgeName());
  }
  a.insert(a.end(), options_.extraArgs.begin(), options_.extraArgs.end());
  return a;
}

std::string Engine::bridgeName() const {
  if (!options_.ownNetworkNamespace) return "none";
  // Unique per engine and at most 15 characters: "bt" and 8 characters of the root's name.
  std::string base = root_.substr(root_.find_last_of('/') + 1);
  std::string name = "bt";
  for (char c : base) {
    if (std::isalnum(static_cast<unsigned char>(c))) name += c;
  }
  return name.size() > 10 ? "bt" + name.substr(name.size() - 8) : name;
}

std::string Engine::networkNamespacePath() const {
  return namespaceHolder_ ? "/proc/" + std::to_string(namespaceHolder_->pid()) + "/ns/net" : "";
}

pid_t Engine::resolverPid(const std::string& slot) const {
  std::string dir = execRoot() + "/resolver/" + slot + "config";
  auto text = readText(dir + "/aardvark.pid");
  pid_t pid = 0;
  try {
    pid = static_cast<pid_t>(std::stol(text));
  } catch (const std::exception&) {
    return 0;
  }
  // Only the engine's own resolver: the process must be serving this engine's directory.
  if (pid <= 1 || readText("/proc/" + std::to_string(pid) + "/cmdline").find(dir) == std::string::npos) return 0;
  return pid;
}

void Engine::endResolver() {
  // The resolver is a process of its own that outlives the network service by design (and the
  // engine's stop, for live-restored containers); a test must not leave it behind. aardvark-dns
  // blocks SIGTERM (it ends when its last network file goes), so it gets SIGKILL; there are two
  // of them, the serving one and the standby.
  for (const char* slot : {"", "standby/"}) {
    if (pid_t pid = resolverPid(slot)) {
      ::kill(pid, SIGKILL);
      for (int i = 0; i < 100 && processAlive(pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
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

std::string Engine::output(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  auto r = docker(args, timeout);
  if (r.exitCode == 0) return r.out;
  std::string command = "docker";
  for (const auto& a : args) command += " " + a;
  return "<" + command + " exited " + std::to_string(r.exitCode) + ": " + r.err + ">";
}

CommandResult Engine::berthctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {binDir() + "/berthctl", "--exec-root", execRoot()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {}, std::chrono::seconds(90));
}

std::map<std::string, ChildInfo> Engine::children() {
  std::map<std::string, ChildInfo> out;
  auto r = berthctl({"status"});
  if (r.exitCode != 0) {
    throw std::runtime_error("berthctl status failed (" + std::to_string(r.exitCode) + "): " + r.err);
  }
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
  if (out.size() != kChildren.size()) throw std::runtime_error("berthctl status listed " + std::to_string(out.size()) +
                                                                " children, not " + std::to_string(kChildren.size()) +
                                                                ":\n" + r.out);
  return out;
}

pid_t Engine::childPid(const std::string& name) {
  auto all = children();
  auto it = all.find(name);
  if (it == all.end() || it->second.pid <= 1) throw std::runtime_error("no live child named " + name);
  return it->second.pid;
}

pid_t Engine::killAndAwaitRestart(const std::string& name, std::chrono::milliseconds within) {
  pid_t old = childPid(name);
  killPid(old, SIGKILL);
  return awaitRestart(name, old, within);
}

pid_t Engine::awaitRestart(const std::string& name, pid_t old, std::chrono::milliseconds within) {
  pid_t now = 0;
  std::string lastError;
  bool back = waitFor(
      [&] {
        try {
          auto all = children();
          auto it = all.find(name);
          if (it == all.end() || it->second.state != "running" || it->second.pid == old || it->second.pid <= 1) return false;
          now = it->second.pid;
          return true;
        } catch (const std::exception& e) {  // berthctl itself may be refused while the API restarts
          lastError = e.what();
          return false;
        }
      },
      within);
  if (!back) {
    throw std::runtime_error(name + " was not running again " +
                             std::to_string(within.count()) + " ms after pid " + std::to_string(old) + " died" +
                             (lastError.empty() ? "" : "; last status error: " + lastError) + "\nengine log:\n" + log());
  }
  return now;
}

std::map<std::string, pid_t> Engine::serviceHealth(std::chrono::milliseconds deadline) {
  std::map<std::string, pid_t> out;
  zmq::context_t context;
  for (const auto& name : kChildren) {
    if (name == "containerd" || name == "api") continue;  // the API answers HTTP, not RPC
    ipc::RpcClient client(context, "ipc://" + execRoot() + "/ipc/" + name + ".sock");
    try {
      auto reply = client.call(ipc::methods::health(), ipc::deadlineIn(deadline));
      auto health = reply.get().getHealth();
      if (std::string(health.getService().cStr()) != name) {
        throw std::runtime_error(name + "'s endpoint answered as " + health.getService().cStr());
      }
      out[name] = static_cast<pid_t>(health.getPid());
    } catch (const Error& e) {
      throw std::runtime_error(name + " did not answer health: " + e.what());
    }
  }
  return out;
}

}  // namespace berth::test
