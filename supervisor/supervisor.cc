#include "supervisor/supervisor.h"

#include "ipc/methods.h"

#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>

#include "common/errors.h"
#include "common/files.h"
#include "common/time_format.h"
#include "ipc/events.h"
#include "ipc/methods.h"
#include "services/containerd-bridge/public/bridge_client.h"
#include "supervisor/engine_roots.h"

extern char** environ;

namespace berth::supervisor {
namespace {

using namespace std::chrono_literals;

constexpr auto kStableRun = 10s;        // a child that ran this long starts its backoff afresh
// A child that had become ready is restarted at once (an operator's kill -9, a crash while
// serving), up to this many times a minute; beyond that, or when it dies before it is ready, it
// backs off as a crash loop.
constexpr size_t kQuickRestartsPerMinute = 60;
constexpr auto kMinBackoff = 100ms;
constexpr auto kMaxBackoff = 10s;
constexpr auto kWatchdog = 10s;         // services must send WATCHDOG=1 at least this often
constexpr auto kProbeInterval = 20ms;   // how often to probe a starting child's ready socket

bool socketAccepts(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  if (!fd || path.size() >= sizeof addr.sun_path) return false;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

ChildProcess makeChild(ChildSpec spec) {
  ChildProcess c;
  c.spec = std::move(spec);
  return c;
}

ipc::ChildState toWire(ChildState s) {
  switch (s) {
    case ChildState::starting: return ipc::ChildState::STARTING;
    case ChildState::running: return ipc::ChildState::RUNNING;
    case ChildState::backoff: return ipc::ChildState::BACKOFF;
    case ChildState::stopping: return ipc::ChildState::STOPPING;
    case ChildState::stopped: return ipc::ChildState::STOPPED;
  }
  return ipc::ChildState::STOPPED;
}

}  // namespace

Supervisor::Supervisor(Config config, std::string binDir)
    : config_(std::move(config)), binDir_(std::move(binDir)), startedAtNano_(nowUnixNanos()) {}

Supervisor::~Supervisor() {
  if (control_) control_->stop();
}

void Supervisor::lockInstance() {
  makeDirectories(config_.dataRoot, 0711, true);
  lock_ = std::make_unique<InstanceLock>(config_);
}

void Supervisor::prepareFilesystem() {
  prepareRoots(config_);
  tmpDir_ = prepareTempDir(config_);
  if (config_.containerdAddress.empty()) containerdConfig_ = writeContainerdConfig(config_);
}

void Supervisor::bindApiSockets() { listeners_ = bindApiListeners(config_); }

void Supervisor::openNotifySocket() {
  notifyPath_ = config_.execRoot + "/supervisor-notify.sock";
  notifyFd_ = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!notifyFd_) throwSystemError("socket", notifyPath_);
  ::unlink(notifyPath_.c_str());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, notifyPath_.c_str(), notifyPath_.size() + 1);
  if (::bind(notifyFd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throwSystemError("bind", notifyPath_);
  }
  int one = 1;
  if (::setsockopt(notifyFd_.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) {
    throwSystemError("setsockopt SO_PASSCRED", notifyPath_);
  }
  // Signals were blocked in main() before any thread started; they arrive here instead.
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  signalFd_ = UniqueFd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signalFd_) throwSystemError("signalfd", "");
  wakeFd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wakeFd_) throwSystemError("eventfd", "");

  for (char** e = environ; *e; ++e) {
    std::string_view v(*e);
    bool managerVar = false;
    for (std::string_view p : {"NOTIFY_SOCKET=", "LISTEN_", "WATCHDOG_", "TMPDIR="}) {
      managerVar = managerVar || v.rfind(p, 0) == 0;
    }
    if (!managerVar) spawnEnv_.base.emplace_back(v);
  }
  spawnEnv_.base.push_back("TMPDIR=" + tmpDir_);
  spawnEnv_.notifySocket = notifyPath_;
  spawnEnv_.watchdog = std::chrono::duration_cast<std::chrono::microseconds>(kWatchdog);
}

void Supervisor::defineChildren() {
  auto args = config_.toArgs();
  if (config_.containerdAddress.empty()) {
    ChildSpec c;
    c.name = "containerd";
    auto containerd = findInPath("containerd");
    if (!containerd) {
      throw Error(ErrorKind::notFound, "containerd not found in PATH; install Debian's containerd package or pass --containerd");
    }
    c.argv = {*containerd, "--config", containerdConfig_};
    c.stage = 0;
    c.readySocket = config_.containerdSocket();
    c.readyTimeout = 60s;
    c.stopTimeout = 15s;
    children_.push_back(makeChild(c));
  }
  auto service = [&](const std::string& name, int stage) {
    ChildSpec s;
    s.name = name;
    s.argv = {binDir_ + "/berth-" + name};
    s.argv.insert(s.argv.end(), args.begin(), args.end());
    s.stage = stage;
    s.watchdog = true;
    s.env = {serviceTunables(std::getenv("GLIBC_TUNABLES"))};
    return s;
  };
  children_.push_back(makeChild(service("images", 1)));
  children_.push_back(makeChild(service("volumes", 1)));
  children_.push_back(makeChild(service("network", 1)));
  children_.push_back(makeChild(service("containerd-bridge", 2)));
  ChildSpec api = service("api", 3);
  for (size_t i = 0; i < listeners_.size(); ++i) {
    api.passFds.push_back(listeners_[i].fd.get());
    api.fdNames.push_back("api" + std::to_string(i));
  }
  children_.push_back(makeChild(api));
}

void Supervisor::startControlEndpoint() {
  control_ = std::make_unique<ipc::RpcServer>(zmq_, config_.supervisorEndpoint());
  control_->implements<ipc::Supervisor>();
  control_->handle(ipc::methods::supervisorStatus(),
                   [this](ipc::Supervisor::StatusParams::Reader, ipc::Supervisor::StatusResults::Builder r) {
                     std::lock_guard lock(mutex_);
                     r.setPid(static_cast<uint32_t>(getpid()));
                     r.setStartedAtNano(startedAtNano_);
                     auto list = r.initChildren(static_cast<unsigned>(children_.size()));
                     for (size_t i = 0; i < children_.size(); ++i) {
                       const auto& c = children_[i];
                       list[i].setName(c.spec.name);
                       list[i].setPid(static_cast<uint32_t>(c.pid));
                       list[i].setState(toWire(c.state));
                       list[i].setStartedAtNano(c.pid ? c.startedAtNano : 0);
                       list[i].setRestarts(c.restarts);
                       list[i].setLastExit(c.lastExit);
                     }
                   });
  control_->handle(
      ipc::methods::supervisorRestart(),
      [this](ipc::Supervisor::RestartParams::Reader p, ipc::Supervisor::RestartResults::Builder) {
        auto done = std::make_shared<std::promise<std::string>>();
        auto result = done->get_future();
        {
          std::lock_guard lock(mutex_);
          commands_.push_back(Command{p.getName(), done});
        }
        uint64_t one = 1;
        if (::write(wakeFd_.get(), &one, sizeof one) < 0) throwSystemError("write", "eventfd");
        if (result.wait_for(60s) != std::future_status::ready) {
          throw Error(ErrorKind::deadlineExceeded, "restart of " + std::string(p.getName()) + " did not finish in 60s");
        }
        std::string error = result.get();
        if (error.rfind("no such service", 0) == 0) throw Error(ErrorKind::notFound, error);
        if (!error.empty()) throw Error(ErrorKind::internal, error);
      },
      ipc::RpcServer::Dispatch::worker);
  control_->start();
}

int Supervisor::run() {
  notifier_.startWatchdog();
  notifier_.status("starting services");
  loop();
  control_->stop();
  removeApiSocketFiles(listeners_);
  listeners_.clear();
  ::unlink(notifyPath_.c_str());
  if (config_.containerdAddress.empty()) {
    ::unlink(config_.containerdSocket().c_str());
    ::unlink((config_.containerdSocket() + ".ttrpc").c_str());
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(config_.ipcDir(), ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (it->is_socket()) std::filesystem::remove(it->path(), ec);
  }
  spdlog::info("berth stopped");
  lock_.reset();
  return 0;
}

void Supervisor::loop() {
  for (;;) {
    auto now = SteadyClock::now();
    auto wait = std::chrono::milliseconds(1000);
    {
      std::lock_guard lock(mutex_);
      advance();
      if (shuttingDown_ && shutdownStage_ < 0) return;
      for (const auto& c : children_) {
        bool timed = c.state == ChildState::backoff || c.state == ChildState::stopping || c.state == ChildState::starting;
        if (timed) wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now));
        if (c.state == ChildState::starting && !c.spec.readySocket.empty()) {
          wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(kProbeInterval));
        }
      }
    }
    if (wait.count() < 0) wait = std::chrono::milliseconds(0);
    pollfd fds[] = {{signalFd_.get(), POLLIN, 0}, {notifyFd_.get(), POLLIN, 0}, {wakeFd_.get(), POLLIN, 0}};
    int n = ::poll(fds, 3, static_cast<int>(wait.count()) + 1);
    if (n < 0 && errno != EINTR) throwSystemError("poll", "");
    std::lock_guard lock(mutex_);
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      while (::read(signalFd_.get(), &info, sizeof info) == sizeof info) handleSignal(static_cast<int>(info.ssi_signo));
    }
    if (fds[1].revents & POLLIN) readNotifications();
    if (fds[2].revents & POLLIN) {
      uint64_t v;
      while (::read(wakeFd_.get(), &v, sizeof v) == sizeof v) {
      }
      runCommands();
    }
  }
}

void Supervisor::handleSignal(int sig) {
  if (sig == SIGCHLD) {
    reapChildren();
  } else if (sig == SIGTERM || sig == SIGINT) {
    if (!shuttingDown_) {
      spdlog::info("received signal {}: stopping services in reverse order", sig);
      notifier_.stopping();
      if (!config_.liveRestore) stopContainers();
      shuttingDown_ = true;
      shutdownStage_ = 0;
      for (const auto& c : children_) shutdownStage_ = std::max(shutdownStage_, c.spec.stage);
      for (auto& [name, done] : pendingRestarts_) done->set_value("engine is shutting down");
      pendingRestarts_.clear();
    }
  } else if (sig == SIGHUP) {
    spdlog::warn("SIGHUP: configuration reload is not supported yet; restart the engine to apply changes");
  }
}

// Without live-restore, containers end with the engine (dockerd's shutdown): the bridge stops
// them, each within its stop timeout capped by shutdown-timeout, before the services stop.
void Supervisor::stopContainers() {
  spdlog::info("live-restore is off: stopping containers (shutdown-timeout {} s)", config_.shutdownTimeout);
  try {
    bridge::BridgeClient bridge(zmq_, config_.serviceEndpoint("containerd-bridge"));
    bridge.shutdown(config_.shutdownTimeout, deadlineIn(std::chrono::seconds(config_.shutdownTimeout + 30)));
  } catch (const std::exception& e) {
    spdlog::warn("stopping containers at shutdown: {}", e.what());
  }
}

void Supervisor::reapChildren() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (ChildProcess* c = findByPid(pid)) onExit(*c, status);
  }
}

void Supervisor::readNotifications() {
  for (;;) {
    char buf[4096];
    char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{buf, sizeof buf - 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(notifyFd_.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) return;
    pid_t sender = 0;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS) {
        ucred cred;
        std::memcpy(&cred, CMSG_DATA(cm), sizeof cred);
        sender = cred.pid;
      }
    }
    ChildProcess* c = findByPid(sender);
    if (!c) continue;
    std::string_view text(buf, static_cast<size_t>(n));
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      std::string_view line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
      if (line == "READY=1" && c->state == ChildState::starting) {
        c->state = ChildState::running;
        c->servedSinceStart = true;
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - c->startedAt).count();
        spdlog::info("{} ready (pid {}, {} ms)", c->spec.name, c->pid, ms);
        completeRestart(*c, "");
      } else if (line == "WATCHDOG=1") {
        c->lastWatchdog = SteadyClock::now();
      } else if (line.rfind("STATUS=", 0) == 0) {
        spdlog::debug("{}: {}", c->spec.name, line.substr(7));
      }
      if (end == std::string_view::npos) break;
      pos = end + 1;
    }
  }
}

void Supervisor::runCommands() {
  while (!commands_.empty()) {
    Command cmd = std::move(commands_.front());
    commands_.pop_front();
    ChildProcess* c = findByName(cmd.restart);
    if (!c) {
      cmd.done->set_value("no such service: " + cmd.restart);
      continue;
    }
    if (shuttingDown_) {
      cmd.done->set_value("engine is shutting down");
      continue;
    }
    spdlog::info("restarting {} on request", c->spec.name);
    pendingRestarts_.emplace_back(c->spec.name, cmd.done);
    if (c->state == ChildState::running || c->state == ChildState::starting) {
      c->restartAfterStop = true;
      stopChild(*c);
    } else if (c->state == ChildState::backoff || c->state == ChildState::stopped) {
      ++c->restarts;
      startChild(*c);
    }
  }
}

void Supervisor::advance() {
  auto now = SteadyClock::now();
  if (shuttingDown_) {
    while (shutdownStage_ >= 0) {
      bool stageDone = true;
      for (auto& c : children_) {
        if (c.spec.stage != shutdownStage_) continue;
        if (c.state == ChildState::backoff) c.state = ChildState::stopped;
        if (c.state == ChildState::running || c.state == ChildState::starting) stopChild(c);
        if (c.state == ChildState::stopping && now >= c.deadline && c.pid > 0) {
          spdlog::warn("{} (pid {}) did not stop in time; killing it", c.spec.name, c.pid);
          ::kill(c.pid, SIGKILL);
          c.deadline = now + 10s;
        }
        if (c.state != ChildState::stopped) stageDone = false;
      }
      if (!stageDone) return;
      --shutdownStage_;
    }
    return;
  }
  for (auto& c : children_) {
    switch (c.state) {
      case ChildState::stopped:
        if (c.startedAt == SteadyClock::time_point{} && stageReady(c.spec.stage)) startChild(c);
        break;
      case ChildState::starting:
        if (!c.spec.readySocket.empty() && socketAccepts(c.spec.readySocket)) {
          c.state = ChildState::running;
          c.servedSinceStart = true;
          auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - c.startedAt).count();
          spdlog::info("{} ready (pid {}, {} ms)", c.spec.name, c.pid, ms);
          completeRestart(c, "");
        } else if (now >= c.deadline) {
          spdlog::error("{} (pid {}) did not become ready in {} ms; killing it", c.spec.name, c.pid,
                        c.spec.readyTimeout.count());
          ::kill(c.pid, SIGKILL);
          c.deadline = now + c.spec.stopTimeout;
          c.state = ChildState::stopping;
        }
        break;
      case ChildState::running:
        if (c.spec.watchdog && now - c.lastWatchdog > kWatchdog) {
          spdlog::error("{} (pid {}) missed its watchdog; killing it", c.spec.name, c.pid);
          ::kill(c.pid, SIGKILL);
          c.lastWatchdog = now;
        }
        break;
      case ChildState::backoff:
        if (now >= c.deadline) startChild(c);
        break;
      case ChildState::stopping:
        if (now >= c.deadline && c.pid > 0) {
          spdlog::warn("{} (pid {}) did not stop in time; killing it", c.spec.name, c.pid);
          ::kill(c.pid, SIGKILL);
          c.deadline = now + 10s;
        }
        break;
    }
  }
  if (!announcedReady_ && std::all_of(children_.begin(), children_.end(),
                                      [](const ChildProcess& c) { return c.state == ChildState::running; })) {
    announcedReady_ = true;
    std::string hosts;
    for (const auto& h : config_.hosts) hosts += (hosts.empty() ? "" : " ") + h.original;
    spdlog::info("berth ready: API on {}", hosts);
    notifier_.ready("berth running; API on " + hosts);
  }
}

bool Supervisor::stageReady(int stage) const {
  for (const auto& c : children_) {
    if (c.spec.stage < stage && c.state != ChildState::running) return false;
  }
  return true;
}

void Supervisor::startChild(ChildProcess& c) {
  c.servedSinceStart = false;
  try {
    c.pid = spawnChild(c.spec, spawnEnv_);
  } catch (const std::exception& e) {
    spdlog::error("cannot start {}: {}", c.spec.name, e.what());
    c.state = ChildState::backoff;
    c.deadline = SteadyClock::now() + kMaxBackoff;
    return;
  }
  auto now = SteadyClock::now();
  c.state = ChildState::starting;
  c.startedAt = now;
  c.startedAtNano = nowUnixNanos();
  c.deadline = now + c.spec.readyTimeout;
  c.lastWatchdog = now;
  spdlog::info("started {} (pid {})", c.spec.name, c.pid);
}

void Supervisor::stopChild(ChildProcess& c) {
  if (c.pid > 0) ::kill(c.pid, SIGTERM);
  c.state = ChildState::stopping;
  c.deadline = SteadyClock::now() + c.spec.stopTimeout;
}

void Supervisor::onExit(ChildProcess& c, int status) {
  auto now = SteadyClock::now();
  c.lastExit = describeExit(status);
  pid_t pid = c.pid;
  c.pid = 0;
  if (shuttingDown_) {
    spdlog::info("{} (pid {}) stopped: {}", c.spec.name, pid, c.lastExit);
    c.state = ChildState::stopped;
    return;
  }
  ++c.restarts;
  if (c.restartAfterStop) {
    c.restartAfterStop = false;
    spdlog::info("{} (pid {}) stopped for restart: {}", c.spec.name, pid, c.lastExit);
    startChild(c);
    return;
  }
  if (now - c.startedAt >= kStableRun) c.nextBackoff = 0ms;
  while (!c.quickRestarts.empty() && now - c.quickRestarts.front() > 60s) c.quickRestarts.pop_front();
  std::chrono::milliseconds delay;
  if (c.servedSinceStart && c.quickRestarts.size() < kQuickRestartsPerMinute) {
    delay = 0ms;
    c.quickRestarts.push_back(now);
  } else {
    delay = c.nextBackoff;
    c.nextBackoff = std::min<std::chrono::milliseconds>(kMaxBackoff, std::max<std::chrono::milliseconds>(kMinBackoff, delay * 2));
  }
  spdlog::error("{} (pid {}) exited unexpectedly: {}; restarting in {} ms", c.spec.name, pid, c.lastExit,
                delay.count());
  completeRestart(c, c.spec.name + " exited: " + c.lastExit);
  c.state = ChildState::backoff;
  c.deadline = now + delay;
}

void Supervisor::completeRestart(ChildProcess& c, const std::string& error) {
  for (auto it = pendingRestarts_.begin(); it != pendingRestarts_.end();) {
    if (it->first == c.spec.name) {
      it->second->set_value(error);
      it = pendingRestarts_.erase(it);
    } else {
      ++it;
    }
  }
}

ChildProcess* Supervisor::findByPid(pid_t pid) {
  if (pid <= 0) return nullptr;
  for (auto& c : children_) {
    if (c.pid == pid) return &c;
  }
  return nullptr;
}

ChildProcess* Supervisor::findByName(const std::string& name) {
  for (auto& c : children_) {
    if (c.spec.name == name) return &c;
  }
  return nullptr;
}

}  // namespace berth::supervisor
