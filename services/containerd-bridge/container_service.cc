#include "services/containerd-bridge/container_service.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "common/errors.h"
#include "common/files.h"
#include "common/random.h"
#include "common/time_format.h"
#include "services/containerd-bridge/oci_spec.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";
constexpr auto kInitialBackoff = 100ms;
constexpr auto kMaxBackoff = std::chrono::milliseconds(60000);

std::string shortId(const std::string& id) { return id.substr(0, 12); }

bool isRunning(const ContainerRecord& r) { return r.state.status == "running" || r.state.status == "paused"; }

[[noreturn]] void notRunning(const std::string& id) {
  throw Error(ErrorKind::conflict, "Container " + id + " is not running");
}


std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void mountOverlay(const std::vector<ContainerdClient::Mount>& mounts, const std::string& target) {
  if (mounts.size() != 1) throw Error(ErrorKind::internal, "expected one rootfs mount, got " + std::to_string(mounts.size()));
  const auto& m = mounts[0];
  std::string data;
  for (const auto& o : m.options) data += (data.empty() ? "" : ",") + o;
  makeDirectories(target, 0755);
  if (mountedAt(target)) return;
  if (::mount(m.source.c_str(), target.c_str(), m.type.c_str(), 0, data.c_str()) != 0) {
    throw Error(ErrorKind::internal, "mount " + m.type + " on " + target + ": " + std::strerror(errno));
  }
}

void unmountAll(const std::string& target) {
  while (::umount2(target.c_str(), MNT_DETACH) == 0) {
  }
}

std::string hostsFile(const std::string& hostname) {
  return "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
         "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
         "127.0.1.1\t" + hostname + "\n";
}


}  // namespace

ContainerService::ContainerService(ContainerStore& store, ContainerdClient& containerd, ImagePort& images,
                                   EventSink events, ServicePaths paths)
    : store_(store), containerd_(containerd), images_(images), events_(std::move(events)), paths_(std::move(paths)) {
  makeDirectories(paths_.runDir, 0700);
}

ContainerService::~ContainerService() { stopping_ = true; }

void ContainerService::spawnThread(std::function<void()> fn) {
  // Detached: a monitor blocks in containerd's Wait for the container's whole life. The
  // process ends without joining them (every record write is atomic, so that is safe).
  std::thread([fn = std::move(fn)] {
    try {
      fn();
    } catch (const std::exception& e) {
      spdlog::error("containers: background task failed: {}", e.what());
    }
  }).detach();
}

std::shared_ptr<std::mutex> ContainerService::opLock(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto& m = opLocks_[id];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

// ---- create -------------------------------------------------------------------------------

ContainerService::Created ContainerService::create(const std::string& name, const json& body) {
  if (!body.is_object()) throw Error(ErrorKind::invalid, "invalid JSON: the request body must be an object");
  json config = body;
  json hostConfig = config.value("HostConfig", json::object());
  if (!hostConfig.is_object()) hostConfig = json::object();
  config.erase("HostConfig");
  config.erase("NetworkingConfig");
  std::string imageRef = config.value("Image", "");
  if (imageRef.empty()) throw Error(ErrorKind::invalid, "No image was specified");

  auto policy = RestartPolicy::of(hostConfig);
  policy.validate();
  if (hostConfig.value("AutoRemove", false) && !policy.none()) {
    throw Error(ErrorKind::invalid, "conflicting options: cannot specify both --restart and --rm");
  }
  std::string networkMode = hostConfig.value("NetworkMode", "");
  if (networkMode.empty()) hostConfig["NetworkMode"] = networkMode = "default";
  static const std::set<std::string> modes = {"default", "bridge", "host", "none"};
  if (!modes.count(networkMode)) {
    throw Error(ErrorKind::invalid, "network " + networkMode + " not found");
  }
  if (config.contains("StopSignal") && config["StopSignal"].is_string() && !config["StopSignal"].get<std::string>().empty()) {
    parseSignal(config["StopSignal"]);
  }

  auto image = images_.inspect(imageRef);
  json imageConfig = image.config.value("config", json::object());
  config = mergeImageConfig(config, imageConfig);
  // Everything the spec builder checks fails here rather than at start; the user is resolved
  // at start, in the container's own filesystem.
  {
    json probe = config;
    probe["User"] = "";
    json probeHost = hostConfig;
    probeHost.erase("GroupAdd");
    buildOciSpec({probe, probeHost, json::object(), "", "probe", paths_.initBinary});
  }

  auto record = store_.reserve(name);
  std::vector<std::string> args = stringsOf(config.value("Entrypoint", json()));
  auto cmd = stringsOf(config.value("Cmd", json()));
  args.insert(args.end(), cmd.begin(), cmd.end());
  if (args.empty()) {
    store_.remove(record.id);
    throw Error(ErrorKind::invalid, "no command specified");
  }
  record.path = args.front();
  record.args.assign(args.begin() + 1, args.end());
  if (config.value("Hostname", "").empty()) config["Hostname"] = shortId(record.id);
  record.created = rfc3339Nano(nowUnixNanos());
  record.image = image.id;
  record.imageRef = imageRef;
  record.config = config;
  record.hostConfig = hostConfig;
  record.logPath = store_.directoryOf(record.id) + "/" + record.id + "-json.log";
  try {
    images_.prepareRootfs(record.id, image.id);
    store_.save(record);
  } catch (...) {
    try {
      images_.releaseRootfs(record.id);
    } catch (const std::exception&) {
    }
    store_.remove(record.id);
    throw;
  }
  events_("create", record, {});
  return {record.id, {}};
}

// ---- start --------------------------------------------------------------------------------

bool ContainerService::start(const std::string& ref) {
  auto record = store_.get(ref);
  auto lock = opLock(record.id);
  std::lock_guard guard(*lock);
  record = store_.get(record.id);
  if (record.state.status == "running" || record.state.status == "paused") return false;
  if (record.removing || record.state.status == "removing") {
    throw Error(ErrorKind::conflict, "container is marked for removal and cannot be started");
  }
  if (record.state.status == "dead") throw Error(ErrorKind::conflict, "container is marked for removal and cannot be started");
  record.manuallyStopped = false;
  try {
    startLocked(record);
  } catch (const Error&) {
    // As dockerd: a --rm container that cannot start is removed.
    if (record.hostConfig.value("AutoRemove", false)) removeLocked(store_.get(record.id));
    throw;
  }
  return true;
}

void ContainerService::startLocked(ContainerRecord record) {
  const std::string id = record.id;
  std::string run = runDirOf(id);
  std::string rootfs = rootfsPath(id);
  makeDirectories(run, 0700);
  auto fail = [&](const std::string& message, int exitCode) {
    cleanupRuntime(id);
    store_.update(id, [&](ContainerRecord& r) {
      r.state.status = r.hasBeenStarted ? "exited" : "created";
      r.state.error = message;
      r.state.exitCode = exitCode;
      r.state.pid = 0;
    });
  };
  json spec;
  auto began = std::chrono::steady_clock::now();
  try {
    auto mounts = images_.prepareRootfs(id, record.image);
    mountOverlay(mounts, rootfs);
    spdlog::debug("containers: start {}: rootfs {:.1f} ms", shortId(id),
                  std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count());
    std::string dir = store_.directoryOf(id);
    std::string hostname = record.config.value("Hostname", shortId(id));
    writeFileAtomic(dir + "/hostname", hostname + "\n");
    std::string mode = record.hostConfig.value("NetworkMode", "default");
    if (mode == "none") {
      writeFileAtomic(dir + "/hosts", hostsFile(hostname));
    } else {
      writeFileAtomic(dir + "/hosts", readText("/etc/hosts") + "127.0.1.1\t" + hostname + "\n");
    }
    writeFileAtomic(dir + "/resolv.conf", readText("/etc/resolv.conf"));

    // Networking is none or the host's until the network service provides bridges.
    json hostConfig = record.hostConfig;
    if (mode != "none") hostConfig["NetworkMode"] = "host";
    spec = buildOciSpec({record.config, hostConfig, json::object(), rootfs, shortId(id), paths_.initBinary});
    spec["root"]["path"] = rootfs;
    spec["linux"]["cgroupsPath"] = "/" + paths_.cgroupParent + "/" + id;
    for (const char* file : {"hostname", "hosts", "resolv.conf"}) {
      std::string dst = std::string("/etc/") + file;
      bool userMount = false;
      for (const auto& m : spec["mounts"]) userMount = userMount || m.value("destination", "") == dst;
      if (!userMount) {
        spec["mounts"].push_back({{"destination", dst},
                                  {"type", "bind"},
                                  {"source", dir + "/" + file},
                                  {"options", {"rbind", "rprivate", hostConfig.value("ReadonlyRootfs", false) ? "ro" : "rw"}}});
      }
    }
    writeFileAtomic(dir + "/spec.json", spec.dump());
  } catch (const Error& e) {
    fail(e.what(), 128);
    throw;
  }

  bool tty = record.config.value("Tty", false);
  bool openStdin = record.config.value("OpenStdin", false);
  bool stdinOnce = record.config.value("StdinOnce", false);
  std::string done = run + "/logger.done";
  ::unlink(done.c_str());
  std::string stdinFifo = run + "/stdin";
  if (openStdin && ::mkfifo(stdinFifo.c_str(), 0600) != 0 && errno != EEXIST) {
    fail("mkfifo " + stdinFifo + ": " + std::strerror(errno), 128);
    throw Error(ErrorKind::internal, "mkfifo " + stdinFifo + ": " + std::strerror(errno));
  }
  std::string logArgs = "--path=" + record.logPath + "&--done=" + done;
  if (record.hostConfig.contains("LogConfig") && record.hostConfig["LogConfig"].is_object()) {
    auto opts = record.hostConfig["LogConfig"].value("Config", json::object());
    if (opts.contains("max-size")) logArgs += "&--max-size=" + opts["max-size"].get<std::string>();
    if (opts.contains("max-file")) logArgs += "&--max-file=" + opts["max-file"].get<std::string>();
  }
  // stdin stays open for the container's whole life unless a single attach owns it.
  if (openStdin && !stdinOnce) logArgs += "&--hold=" + stdinFifo;

  ContainerdClient::Stdio stdio;
  stdio.terminal = tty;
  if (!openStdin || tty) {
    // The shim runs berth-logger: output never passes through a berth service.
    stdio.out = "binary://" + paths_.loggerBinary + "?" + logArgs;
    stdio.err = tty ? "" : stdio.out;
    if (openStdin) stdio.in = stdinFifo;
  } else {
    // Without a terminal the shim copies stdin only for fifo stdio: berth starts the logger
    // itself, detached, on the output fifos.
    stdio.in = stdinFifo;
    stdio.out = run + "/stdout";
    stdio.err = run + "/stderr";
    for (const auto& f : {stdio.out, stdio.err}) {
      if (::mkfifo(f.c_str(), 0600) != 0 && errno != EEXIST) throw Error(ErrorKind::internal, "mkfifo " + f);
    }
    std::vector<std::string> argv = {paths_.loggerBinary, "--path", record.logPath, "--done", done,
                                     "--stdout-fifo", stdio.out, "--stderr-fifo", stdio.err};
    if (!stdinOnce) argv.insert(argv.end(), {"--hold", stdinFifo});
    pid_t child = ::fork();
    if (child == 0) {
      ::setsid();
      if (::fork() != 0) ::_exit(0);
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      for (int fd = 3; fd < 1024; ++fd) ::close(fd);
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      ::execv(cargv[0], cargv.data());
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
  }

  try {
    try {
      containerd_.deleteTask(id);
    } catch (const Error&) {
    }
    containerd_.deleteContainerRecord(id);
    auto t0 = std::chrono::steady_clock::now();
    containerd_.createContainer(id, spec.dump());
    auto t1 = std::chrono::steady_clock::now();
    containerd_.createTask(id, stdio);
    auto t2 = std::chrono::steady_clock::now();
    uint32_t pid = containerd_.startProcess(id, "");
    auto t3 = std::chrono::steady_clock::now();
    auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
    spdlog::debug("containers: start {}: containerd container {:.1f} ms, task {:.1f} ms, start {:.1f} ms", shortId(id),
                  ms(t1 - t0), ms(t2 - t1), ms(t3 - t2));
    record = store_.update(id, [&](ContainerRecord& r) {
      r.state.status = "running";
      r.state.pid = static_cast<int>(pid);
      r.state.exitCode = 0;
      r.state.error.clear();
      r.state.oomKilled = false;
      r.state.startedAt = rfc3339Nano(nowUnixNanos());
      // A health check starts over with each run.
      r.state.health = hasHealthCheck(r.config) ? json{{"Status", "starting"}, {"FailingStreak", 0}, {"Log", json::array()}}
                                                : json();
      r.hasBeenStarted = true;
    });
  } catch (const Error& e) {
    if (openStdin && !tty) {
      // The detached logger waits on the output fifos: connecting and closing a writer ends it.
      for (const auto& f : {stdio.out, stdio.err}) {
        int fd = ::open(f.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) ::close(fd);
      }
    }
    std::string message = e.what();
    int code = 128;
    if (message.find("executable file not found") != std::string::npos ||
        message.find("no such file or directory") != std::string::npos) {
      code = 127;
    } else if (message.find("permission denied") != std::string::npos) {
      code = 126;
    }
    fail(message, code);
    // The task never ran: its logger must not linger on the fifos.
    throw Error(e.kind() == ErrorKind::unavailable ? ErrorKind::unavailable : ErrorKind::invalid,
                "failed to create task for container: " + message);
  }
  events_("start", record, {});
  int64_t exits = record.exits;
  spawnThread([this, id, exits] { monitor(id, exits); });
  if (hasHealthCheck(record.config)) spawnThread([this, id, exits] { monitorHealth(id, exits); });
}

// ---- exits --------------------------------------------------------------------------------

void ContainerService::monitor(const std::string& id, int64_t startedExits) {
  auto delay = 100ms;
  for (;;) {
    if (stopping_) return;
    try {
      auto exit = containerd_.wait(id, "", std::chrono::hours(24 * 365));
      handleExit(id, exit);
      return;
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::notFound) {
        // The task is gone (deleted by someone else, or containerd lost it): an exit.
        handleExit(id, {255, nowUnixNanos()});
        return;
      }
      if (e.kind() != ErrorKind::unavailable && e.kind() != ErrorKind::deadlineExceeded) {
        spdlog::warn("containers: waiting for {}: {}", shortId(id), e.what());
      }
    }
    // containerd is restarting: wait again (the shim keeps the exit status for us).
    std::this_thread::sleep_for(delay);
    delay = std::min<std::chrono::milliseconds>(delay * 2, 2000ms);
    try {
      auto r = store_.get(id);
      if (r.exits != startedExits || !isRunning(r)) return;
    } catch (const Error&) {
      return;
    }
  }
}

void ContainerService::cleanupRuntime(const std::string& id) {
  try {
    containerd_.deleteTask(id);
  } catch (const Error& e) {
    spdlog::warn("containers: deleting task {}: {}", shortId(id), e.what());
  }
  try {
    containerd_.deleteContainerRecord(id);
  } catch (const Error& e) {
    spdlog::warn("containers: deleting containerd container {}: {}", shortId(id), e.what());
  }
  unmountAll(rootfsPath(id));
}

void ContainerService::handleExit(const std::string& id, ContainerdClient::Exit exit) {
  ContainerRecord record;
  try {
    record = store_.get(id);
  } catch (const Error&) {
    return;
  }
  if (!isRunning(record)) return;
  // Deleting the task waits for the log writer: once the exit is visible, the log is complete.
  std::optional<ContainerdClient::Exit> deleted;
  auto t0 = std::chrono::steady_clock::now();
  try {
    deleted = containerd_.deleteTask(id);
  } catch (const Error& e) {
    spdlog::warn("containers: deleting task {}: {}", shortId(id), e.what());
  }
  auto t1 = std::chrono::steady_clock::now();
  if (deleted && exit.status == 255 && deleted->status != 0) exit = *deleted;
  try {
    containerd_.deleteContainerRecord(id);
  } catch (const Error&) {
  }
  unmountAll(rootfsPath(id));
  auto t2 = std::chrono::steady_clock::now();
  spdlog::debug("containers: exit {}: task deleted in {:.1f} ms, container record and rootfs in {:.1f} ms", shortId(id),
                std::chrono::duration<double, std::milli>(t1 - t0).count(),
                std::chrono::duration<double, std::milli>(t2 - t1).count());

  int64_t startedAt = 0;
  int64_t finished = exit.exitedAtNanos > 0 ? exit.exitedAtNanos : nowUnixNanos();
  bool restart = false;
  record = store_.update(id, [&](ContainerRecord& r) {
    startedAt = parseRfc3339Nanos(r.state.startedAt);
    r.state.status = "exited";
    r.state.pid = 0;
    r.state.exitCode = static_cast<int>(exit.status);
    r.state.finishedAt = rfc3339Nano(finished);
    r.exits += 1;
    auto policy = RestartPolicy::of(r.hostConfig);
    restart = !stopping_ && policy.shouldRestart(r.state.exitCode, r.manuallyStopped, r.restartCount);
    if (restart) r.state.status = "restarting";
  });
  {
    std::lock_guard lock(mutex_);
  }
  exited_.notify_all();
  events_("die", record, {{"exitCode", std::to_string(record.state.exitCode)}});

  if (restart) {
    std::chrono::milliseconds delay;
    {
      std::lock_guard lock(mutex_);
      auto& b = backoff_[id];
      bool ranLong = startedAt > 0 && finished - startedAt >= 10'000'000'000LL;
      b = (b.count() == 0 || ranLong) ? std::chrono::milliseconds(kInitialBackoff) : std::min(b * 2, kMaxBackoff);
      delay = b;
    }
    scheduleRestart(id, delay);
  } else if (record.hostConfig.value("AutoRemove", false)) {
    spawnThread([this, id] {
      try {
        remove(id, true);
      } catch (const Error& e) {
        spdlog::warn("containers: auto-removing {}: {}", shortId(id), e.what());
      }
    });
  }
}

void ContainerService::scheduleRestart(const std::string& id, std::chrono::milliseconds delay) {
  spawnThread([this, id, delay] {
    std::this_thread::sleep_for(delay);
    auto lock = opLock(id);
    std::lock_guard guard(*lock);
    ContainerRecord record;
    try {
      record = store_.get(id);
    } catch (const Error&) {
      return;
    }
    if (record.state.status != "restarting" || stopping_) return;
    if (record.manuallyStopped) {
      // A stop came between the exit and this restart: it stays stopped.
      store_.update(id, [](ContainerRecord& r) {
        if (r.state.status == "restarting") r.state.status = "exited";
      });
      return;
    }
    record = store_.update(id, [](ContainerRecord& r) { r.restartCount += 1; });
    try {
      startLocked(record);
      events_("restart", store_.get(id), {});
    } catch (const Error& e) {
      spdlog::warn("containers: restarting {}: {}", shortId(id), e.what());
    }
  });
}

// ---- stop, kill, pause --------------------------------------------------------------------

// A container that exits just as it is signalled can make containerd's Kill fail (the task is
// gone, or its shim is closing: "ttrpc: closed"). The exit is what the signal was for.
void ContainerService::signalUnlessExited(const ContainerRecord& record, int signal, bool all) {
  try {
    containerd_.kill(record.id, "", signal, all);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::notFound) return;
    if (waitExitAfter(record.id, record.exits, 2s)) return;
    throw;
  }
}

bool ContainerService::stopLocked(const ContainerRecord& record, int timeoutSeconds, const std::string& signalText) {
  if (record.state.status == "restarting") {
    store_.update(record.id, [](ContainerRecord& r) {
      r.manuallyStopped = true;
      r.state.status = "exited";
    });
    return true;
  }
  if (!isRunning(record)) return false;
  store_.update(record.id, [](ContainerRecord& r) { r.manuallyStopped = true; });
  int timeout = timeoutSeconds;
  if (timeout < 0) {
    timeout = record.config.contains("StopTimeout") && record.config["StopTimeout"].is_number_integer()
                  ? record.config["StopTimeout"].get<int>()
                  : 10;
  }
  std::string sigText = !signalText.empty() ? signalText : record.config.value("StopSignal", "");
  int sig = sigText.empty() ? SIGTERM : parseSignal(sigText);
  if (record.state.status == "paused") {
    try {
      containerd_.resume(record.id);
    } catch (const Error&) {
    }
  }
  signalUnlessExited(record, sig, false);
  // An exit of its own just before this stop may have been taken for a restart: stopped wins.
  auto settle = [&] {
    return store_.update(record.id, [](ContainerRecord& r) {
      if (r.state.status == "restarting") r.state.status = "exited";
    });
  };
  if (timeout >= 0 && waitExitAfter(record.id, record.exits, std::chrono::seconds(timeout))) {
    events_("stop", settle(), {});
    return true;
  }
  signalUnlessExited(record, SIGKILL, true);
  if (!waitExitAfter(record.id, record.exits, 30s)) {
    throw Error(ErrorKind::internal, "container " + record.id + " did not exit after SIGKILL");
  }
  events_("stop", settle(), {});
  return true;
}

bool ContainerService::stop(const std::string& ref, int timeoutSeconds, const std::string& signal) {
  auto record = store_.get(ref);
  if (!signal.empty()) parseSignal(signal);
  auto lock = opLock(record.id);
  std::lock_guard guard(*lock);
  return stopLocked(store_.get(record.id), timeoutSeconds, signal);
}

void ContainerService::restart(const std::string& ref, int timeoutSeconds, const std::string& signal) {
  auto record = store_.get(ref);
  auto lock = opLock(record.id);
  std::lock_guard guard(*lock);
  stopLocked(store_.get(record.id), timeoutSeconds, signal);
  auto r = store_.get(record.id);
  r.manuallyStopped = false;
  store_.save(r);
  startLocked(r);
  events_("restart", store_.get(record.id), {});
}

void ContainerService::kill(const std::string& ref, const std::string& signalText) {
  auto record = store_.get(ref);
  int sig = signalText.empty() ? SIGKILL : parseSignal(signalText);
  if (!isRunning(record)) {
    throw Error(ErrorKind::conflict, "Cannot kill container: " + ref + ": Container " + record.id + " is not running");
  }
  if (sig == SIGKILL) {
    // as dockerd: a KILL is a stop the restart policy honours
    store_.update(record.id, [](ContainerRecord& r) { r.manuallyStopped = true; });
  }
  containerd_.kill(record.id, "", sig, false);
  events_("kill", record, {{"signal", std::to_string(sig)}});
}

void ContainerService::pause(const std::string& ref) {
  auto record = store_.get(ref);
  auto lock = opLock(record.id);
  std::lock_guard guard(*lock);
  record = store_.get(record.id);
  if (record.state.status == "paused") throw Error(ErrorKind::conflict, "Container " + record.id + " is already paused");
  if (record.state.status != "running") notRunning(record.id);
  containerd_.pause(record.id);
  record.state.status = "paused";
  store_.save(record);
  events_("pause", record, {});
}

void ContainerService::unpause(const std::string& ref) {
  auto record = store_.get(ref);
  auto lock = opLock(record.id);
  std::lock_guard guard(*lock);
  record = store_.get(record.id);
  if (record.state.status != "paused") throw Error(ErrorKind::conflict, "Container " + record.id + " is not paused");
  containerd_.resume(record.id);
  record.state.status = "running";
  store_.save(record);
  events_("unpause", record, {});
}

bool ContainerService::waitExitAfter(const std::string& id, int64_t exits, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  for (;;) {
    try {
      auto r = store_.get(id);
      if (r.exits > exits) return true;
    } catch (const Error&) {
      return true;  // removed
    }
    if (exited_.wait_until(lock, deadline) == std::cv_status::timeout) {
      try {
        return store_.get(id).exits > exits;
      } catch (const Error&) {
        return true;
      }
    }
  }
}

WaitResult ContainerService::wait(const std::string& ref, const std::string& condition, int64_t afterExits,
                                  std::chrono::milliseconds waitFor) {
  if (!condition.empty() && condition != "not-running" && condition != "next-exit" && condition != "removed") {
    throw Error(ErrorKind::invalid, "invalid condition: \"" + condition + "\"");
  }
  WaitResult result;
  auto deadline = std::chrono::steady_clock::now() + waitFor;
  std::unique_lock lock(mutex_);
  bool first = true;
  for (;;) {
    std::optional<ContainerRecord> record;
    try {
      record = store_.get(ref);
    } catch (const Error& e) {
      auto it = removedExitCodes_.find(ref);
      if (condition == "removed" && it != removedExitCodes_.end()) {
        result.id = ref;
        result.done = true;
        result.statusCode = it->second;
        return result;
      }
      throw;
    }
    result.id = record->id;
    if (first && afterExits < 0) afterExits = record->exits;
    first = false;
    result.exits = afterExits;
    const auto& s = record->state.status;
    bool running = s == "running" || s == "paused" || s == "restarting";
    if (condition == "next-exit") {
      result.done = record->exits > afterExits && s != "restarting";
    } else if (condition == "removed") {
      result.done = false;
    } else {
      result.done = !running;
    }
    if (result.done) {
      result.statusCode = record->state.exitCode;
      result.error = record->state.error;
      return result;
    }
    if (exited_.wait_until(lock, deadline) == std::cv_status::timeout) return result;
  }
}

// ---- remove, rename -----------------------------------------------------------------------

void ContainerService::removeLocked(const ContainerRecord& given) {
  auto record = store_.get(given.id);
  record.removing = true;
  record.state.status = "removing";
  auto t0 = std::chrono::steady_clock::now();
  store_.save(record);
  auto t1 = std::chrono::steady_clock::now();
  cleanupRuntime(record.id);
  auto t2 = std::chrono::steady_clock::now();
  images_.releaseRootfs(record.id);
  auto t3 = std::chrono::steady_clock::now();
  removeAll(runDirOf(record.id));
  store_.remove(record.id);
  auto t4 = std::chrono::steady_clock::now();
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  spdlog::debug("containers: remove {}: mark {:.1f} ms, runtime {:.1f} ms, layer {:.1f} ms, record {:.1f} ms", shortId(record.id),
                ms(t1 - t0), ms(t2 - t1), ms(t3 - t2), ms(t4 - t3));
  {
    std::lock_guard lock(mutex_);
    if (removedExitCodes_.size() > 1000) removedExitCodes_.clear();
    removedExitCodes_[record.id] = record.state.exitCode;
    opLocks_.erase(record.id);
    backoff_.erase(record.id);
    for (auto it = execs_.begin(); it != execs_.end();) {
      if (it->second.containerId == record.id) it = execs_.erase(it);
      else ++it;
    }
  }
  exited_.notify_all();
  events_("destroy", record, {});
}

void ContainerService::remove(const std::string& ref, bool force) {
  auto record = store_.get(ref);
  auto lock = opLock(record.id);
  std::lock_guard guard(*lock);
  record = store_.get(record.id);
  if (isRunning(record) || record.state.status == "restarting") {
    if (!force) {
      std::string state = record.state.status == "paused" ? "paused" : record.state.status == "restarting" ? "restarting" : "running";
      throw Error(ErrorKind::conflict, "cannot remove container \"" + record.name + "\": container is " + state +
                                           ": stop the container before removing or force remove");
    }
    auto r = store_.update(record.id, [](ContainerRecord& c) { c.manuallyStopped = true; });
    if (isRunning(r)) {
      if (r.state.status == "paused") {
        try {
          containerd_.resume(r.id);
        } catch (const Error&) {
        }
      }
      signalUnlessExited(r, SIGKILL, true);
      if (!waitExitAfter(r.id, r.exits, 30s)) throw Error(ErrorKind::internal, "container did not exit after SIGKILL");
    }
  }
  removeLocked(store_.get(record.id));
}

void ContainerService::rename(const std::string& ref, const std::string& newName) {
  auto record = store_.get(ref);
  if (newName.empty()) throw Error(ErrorKind::invalid, "Neither old nor new names may be empty");
  std::string old = record.name;
  store_.rename(record.id, newName);
  events_("rename", store_.get(record.id), {{"oldName", old}});
}

// ---- resize, top, prune -------------------------------------------------------------------

void ContainerService::resize(const std::string& ref, uint32_t height, uint32_t width) {
  auto record = store_.get(ref);
  if (!isRunning(record)) notRunning(record.id);
  containerd_.resizePty(record.id, "", width, height);
}

json ContainerService::top(const std::string& ref, const std::string& psArgs) {
  auto record = store_.get(ref);
  if (!isRunning(record)) notRunning(record.id);
  auto pids = containerd_.listPids(record.id);
  std::string args = psArgs.empty() ? "-ef" : psArgs;
  if (args.find_first_of("'\"`$;&|<>\\") != std::string::npos) throw Error(ErrorKind::invalid, "invalid ps arguments");
  std::unique_ptr<FILE, decltype(&pclose)> p(popen(("ps " + args + " 2>&1").c_str(), "r"), pclose);
  if (!p) throw Error(ErrorKind::internal, "running ps failed");
  std::vector<std::string> lines;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), p.get())) {
    std::string l = buf.data();
    if (!l.empty() && l.back() == '\n') l.pop_back();
    lines.push_back(l);
  }
  if (lines.empty()) throw Error(ErrorKind::internal, "ps printed nothing");
  auto split = [](const std::string& l, size_t max) {
    std::vector<std::string> f;
    std::istringstream in(l);
    std::string w;
    while (f.size() + 1 < max && in >> w) f.push_back(w);
    std::string rest;
    std::getline(in, rest);
    size_t start = rest.find_first_not_of(' ');
    if (start != std::string::npos) f.push_back(rest.substr(start));
    return f;
  };
  auto titles = split(lines[0], 1000);
  auto pidColumn = std::find(titles.begin(), titles.end(), "PID");
  if (pidColumn == titles.end()) throw Error(ErrorKind::invalid, "Couldn't find PID field in ps output");
  size_t pidIndex = static_cast<size_t>(pidColumn - titles.begin());
  json processes = json::array();
  for (size_t i = 1; i < lines.size(); ++i) {
    auto fields = split(lines[i], titles.size());
    if (fields.size() <= pidIndex) continue;
    uint32_t pid = static_cast<uint32_t>(std::strtoul(fields[pidIndex].c_str(), nullptr, 10));
    if (std::find(pids.begin(), pids.end(), pid) != pids.end()) processes.push_back(fields);
  }
  return {{"Titles", titles}, {"Processes", processes}};
}

json ContainerService::prune(const json& filters) {
  ListOptions options;
  options.all = true;
  options.filters = filters.is_object() ? filters : json::object();
  for (auto it = options.filters.begin(); it != options.filters.end(); ++it) {
    if (it.key() != "label" && it.key() != "label!" && it.key() != "until") {
      throw Error(ErrorKind::invalid, "Invalid filter '" + it.key() + "'");
    }
  }
  // until: containers created before the time (the earliest when several are given).
  std::optional<int64_t> until;
  if (options.filters.contains("until")) {
    const auto& values = options.filters["until"];
    std::vector<std::string> texts;
    if (values.is_object()) {
      for (auto it = values.begin(); it != values.end(); ++it) texts.push_back(it.key());
    } else {
      texts = stringsOf(values);
    }
    for (const auto& text : texts) {
      auto t = parseDockerTime(text, nowUnixNanos());
      if (!t) throw Error(ErrorKind::invalid, "failed to parse value as time or duration: \"" + text + "\"");
      until = until ? std::min(*until, *t) : *t;
    }
    options.filters.erase("until");
  }
  json deleted = json::array();
  for (const auto& c : list(options)) {
    std::string state = c.value("State", "");
    if (state != "exited" && state != "created" && state != "dead") continue;
    if (until && c.value("Created", int64_t{0}) * 1000000000 > *until) continue;
    try {
      remove(c["Id"].get<std::string>(), false);
      deleted.push_back(c["Id"]);
    } catch (const Error& e) {
      spdlog::warn("containers: prune {}: {}", c["Id"].get<std::string>(), e.what());
    }
  }
  events_("prune", ContainerRecord{}, {{"reclaimed", "0"}});
  return {{"ContainersDeleted", deleted.empty() ? json() : deleted}, {"SpaceReclaimed", 0}};
}

// ---- attach support -----------------------------------------------------------------------

AttachTarget ContainerService::attachTarget(const std::string& ref) const {
  auto record = store_.get(ref);
  AttachTarget t;
  t.id = record.id;
  t.tty = record.config.value("Tty", false);
  t.openStdin = record.config.value("OpenStdin", false);
  t.stdinOnce = record.config.value("StdinOnce", false);
  t.logPath = record.logPath;
  t.stdinFifo = runDirOf(record.id) + "/stdin";
  t.loggerDone = runDirOf(record.id) + "/logger.done";
  t.status = record.state.status;
  t.exits = record.exits;
  if (t.openStdin) {
    makeDirectories(runDirOf(record.id), 0700);
    if (::mkfifo(t.stdinFifo.c_str(), 0600) != 0 && errno != EEXIST) {
      throw Error(ErrorKind::internal, "mkfifo " + t.stdinFifo + ": " + std::strerror(errno));
    }
  }
  return t;
}

void ContainerService::closeStdin(const std::string& id, const std::string& execId) {
  try {
    containerd_.closeStdin(id, execId);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::notFound) spdlog::warn("containers: closing stdin of {}: {}", shortId(id), e.what());
  }
}

// ---- restore and shutdown -----------------------------------------------------------------

void ContainerService::restore() {
  watchOomEvents();
  // The marker lives in the exec root (a tmpfs): absent after a reboot or an engine shutdown
  // that stopped the containers, present when only the bridge restarted.
  std::string marker = paths_.runDir + "/.restored";
  bool engineStart = ::access(marker.c_str(), F_OK) != 0;
  writeFileAtomic(marker, "");
  for (auto record : store_.list()) {
    const std::string id = record.id;
    if (record.removing) {
      // dockerd: a removal that was interrupted leaves the container dead.
      cleanupRuntime(id);
      record.state.status = "dead";
      record.state.pid = 0;
      store_.save(record);
      continue;
    }
    if (record.state.status == "restarting") {
      scheduleRestart(id, kInitialBackoff);
      continue;
    }
    if (!isRunning(record)) {
      auto policy = RestartPolicy::of(record.hostConfig);
      bool boot = engineStart && record.state.status == "exited" && record.hasBeenStarted &&
                  (policy.name == "always" || (policy.name == "unless-stopped" && !record.manuallyStopped));
      if (boot) {
        spawnThread([this, id] {
          auto lock = opLock(id);
          std::lock_guard guard(*lock);
          auto r = store_.get(id);
          r.manuallyStopped = false;
          startLocked(r);
        });
      }
      continue;
    }
    std::optional<ContainerdClient::TaskInfo> task;
    for (int attempt = 0; attempt < 50; ++attempt) {
      try {
        task = containerd_.task(id);
        break;
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::unavailable) break;
        std::this_thread::sleep_for(100ms);
      }
    }
    if (task && (task->status == ContainerdClient::TaskStatus::running ||
                 task->status == ContainerdClient::TaskStatus::paused ||
                 task->status == ContainerdClient::TaskStatus::pausing)) {
      // Alive: watch it again. Its logger is the shim's child and never stopped.
      std::string status = task->status == ContainerdClient::TaskStatus::running ? "running" : "paused";
      if (record.state.status != status || record.state.pid != static_cast<int>(task->pid)) {
        record.state.status = status;
        record.state.pid = static_cast<int>(task->pid);
        store_.save(record);
      }
      int64_t exits = record.exits;
      spawnThread([this, id, exits] { monitor(id, exits); });
      if (hasHealthCheck(record.config)) spawnThread([this, id, exits] { monitorHealth(id, exits); });
      continue;
    }
    // It exited while the bridge was down (or the host rebooted): record the exit, then the
    // restart policy decides as for any exit.
    ContainerdClient::Exit exit{255, nowUnixNanos()};
    if (task) exit = {task->exitStatus, task->exitedAtNanos};
    handleExit(id, exit);
  }
  // Finish auto-removals of containers that exited while no bridge ran.
  for (const auto& record : store_.list()) {
    if (record.state.status == "exited" && record.hostConfig.value("AutoRemove", false)) {
      std::string id = record.id;
      spawnThread([this, id] { remove(id, true); });
    }
  }
}

void ContainerService::shutdown(std::chrono::seconds timeout) {
  ::unlink((paths_.runDir + "/.restored").c_str());
  std::vector<std::thread> stops;
  for (const auto& record : store_.list()) {
    if (!isRunning(record)) continue;
    std::string id = record.id;
    stops.emplace_back([this, id, timeout] {
      try {
        auto r = store_.get(id);
        int t = r.config.contains("StopTimeout") && r.config["StopTimeout"].is_number_integer() ? r.config["StopTimeout"].get<int>() : 10;
        t = std::min<int>(t, static_cast<int>(timeout.count()));
        auto lock = opLock(id);
        std::lock_guard guard(*lock);
        // A shutdown stop is not a user's stop: "always" restarts the container on the next start.
        stopLocked(r, t, "");
        auto after = store_.get(id);
        after.manuallyStopped = false;
        store_.save(after);
      } catch (const std::exception& e) {
        spdlog::warn("containers: stopping {} at shutdown: {}", shortId(id), e.what());
      }
    });
  }
  for (auto& t : stops) t.join();
}

}  // namespace berth::bridge
