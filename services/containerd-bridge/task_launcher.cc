#include "services/containerd-bridge/task_launcher.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/files.h"
#include "services/containerd-bridge/container_spec.h"
#include "services/containerd-bridge/oci_spec.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::string shortId(const std::string& id) { return id.substr(0, 12); }

double msSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

std::string isolatedHosts(const std::string& hostname) {
  return "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
         "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
         "127.0.1.1\t" + hostname + "\n";
}

// dockerd's exit code for a start that failed, from the runtime's message.
int exitCodeFor(const std::string& message) {
  if (message.find("executable file not found") != std::string::npos ||
      message.find("no such file or directory") != std::string::npos) {
    return 127;
  }
  if (message.find("permission denied") != std::string::npos) return 126;
  return 128;
}

void makeFifo(const std::string& path) {
  if (::mkfifo(path.c_str(), 0600) != 0 && errno != EEXIST) throwSystemError("mkfifo", path);
}

}  // namespace

uint32_t TaskLauncher::launch(const ContainerRecord& record, Deadline deadline) {
  const std::string& id = record.id;
  makeDirectories(paths_.runDirOf(id), 0700);
  auto began = std::chrono::steady_clock::now();
  json spec;
  bool storagePrepared = false;
  try {
    auto volumeMounts = prepareStorage(record, deadline);
    storagePrepared = true;
    spdlog::debug("containers: start {}: rootfs and volumes {:.1f} ms", shortId(id), msSince(began));
    writeHostFiles(record);
    std::string netns = networks_.attach(record, deadline);
    auto specBegan = std::chrono::steady_clock::now();
    spec = finaliseSpec(record, volumeMounts, netns);
    spdlog::debug("containers: start {}: host files {:.1f} ms, spec {:.1f} ms", shortId(id),
                  std::chrono::duration<double, std::milli>(specBegan - began).count(), msSince(specBegan));
  } catch (const Error& e) {
    if (storagePrepared) releaseStorage(id, deadline);
    else host_.unmountRootfs(paths_.rootfsOf(id));
    throw LaunchError(e.kind(), e.what(), 128);
  }
  TaskStdio stdio;
  try {
    stdio = prepareStdio(record);
  } catch (const Error& e) {
    releaseStorage(id, deadline);
    throw LaunchError(ErrorKind::internal, e.what(), 128);
  }
  try {
    return createRuntime(record, spec, stdio, deadline);
  } catch (const Error& e) {
    releaseStdio(record, stdio);
    try {
      teardown_.ensureGone(id, capped(deadline, 30s));
    } catch (const Error& gone) {
      // Left for the next start or the removal, which check again before deleting anything.
      spdlog::warn("containers: cleaning up after the failed start of {}: {}", shortId(id), gone.what());
    }
    std::string message = e.what();
    throw LaunchError(e.kind() == ErrorKind::unavailable ? ErrorKind::unavailable : ErrorKind::invalid,
                      "failed to create task for container: " + message, exitCodeFor(message));
  }
}

std::vector<json> TaskLauncher::prepareStorage(const ContainerRecord& record, Deadline deadline) {
  std::string rootfs = paths_.rootfsOf(record.id);
  bool mounted = false;
  if (!record.rootfsMounts.empty()) {
    try {
      host_.mountRootfs(record.rootfsMounts, rootfs);
      mounted = true;
    } catch (const Error& e) {
      // The layer moved (or the record predates the mounts): ask the images service again.
      spdlog::info("containers: start {}: the recorded rootfs mount failed ({}); preparing it again",
                   shortId(record.id), e.what());
    }
  }
  if (!mounted) host_.mountRootfs(images_.prepare(record.id, record.image, capped(deadline, 30s)).mounts, rootfs);
  try {
    return volumes_.mount(record, deadline);
  } catch (...) {
    host_.unmountRootfs(rootfs);
    throw;
  }
}

void TaskLauncher::releaseStorage(const std::string& id, Deadline deadline) {
  host_.unmountRootfs(paths_.rootfsOf(id));
  volumes_.unmount(id, capped(deadline, 10s));
}

void TaskLauncher::writeHostFiles(const ContainerRecord& record) {
  std::string dir = store_.directoryOf(record.id);
  // Written again at every start, from the record and the host: atomic, not durable.
  std::string hostname = record.config.value("Hostname", shortId(record.id));
  writeFileReplacing(dir + "/hostname", hostname + "\n");
  if (record.hostConfig.value("NetworkMode", "default") == "none") {
    writeFileReplacing(dir + "/hosts", isolatedHosts(hostname));
  } else {
    writeFileReplacing(dir + "/hosts", host_.readHostFile("/etc/hosts") + "127.0.1.1\t" + hostname + "\n");
  }
  writeFileReplacing(dir + "/resolv.conf", host_.readHostFile("/etc/resolv.conf"));
}

json TaskLauncher::finaliseSpec(const ContainerRecord& record, const std::vector<json>& volumeMounts,
                                const std::string& netns) {
  const std::string& id = record.id;
  std::string rootfs = paths_.rootfsOf(id);
  std::string dir = store_.directoryOf(id);
  // The base spec made at create (built again only for a record that has none), finished for
  // this run: the user is resolved in the now mounted root filesystem.
  auto base = readBaseSpec(store_, id);
  json spec = base ? *base : baseSpec(record, paths_);
  std::vector<std::string> groupAdd;
  for (const auto& g : record.hostConfig.value("GroupAdd", json::array())) {
    if (g.is_string()) groupAdd.push_back(g.get<std::string>());
  }
  resolveSpecUser(spec, rootfs, record.config.value("User", ""), groupAdd);
  bool readonly = record.hostConfig.value("ReadonlyRootfs", false);
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
                                {"options", {"rbind", "rprivate", readonly ? "ro" : "rw"}}});
    }
  }
  for (const auto& m : volumeMounts) {
    // A volume takes the place of a standard mount at its destination (as a bind would).
    auto& mounts = spec["mounts"];
    for (auto it = mounts.begin(); it != mounts.end();) {
      if ((*it).value("destination", "") == m.value("destination", "")) it = mounts.erase(it);
      else ++it;
    }
    mounts.push_back(m);
  }
  sortMountsByDepth(spec["mounts"]);
  if (!netns.empty()) {
    for (auto& ns : spec["linux"]["namespaces"]) {
      if (ns.value("type", "") == "network") ns["path"] = netns;
    }
  }
  // exec and health probes start from the container's own process settings.
  writeFileReplacing(dir + "/spec.json", spec.dump());
  return spec;
}

TaskStdio TaskLauncher::prepareStdio(const ContainerRecord& record) {
  std::string run = paths_.runDirOf(record.id);
  bool tty = record.config.value("Tty", false);
  bool openStdin = record.config.value("OpenStdin", false);
  bool stdinOnce = record.config.value("StdinOnce", false);
  std::string done = run + "/logger.done";
  ::unlink(done.c_str());
  std::string stdinFifo = run + "/stdin";
  if (openStdin) makeFifo(stdinFifo);
  std::string logArgs = "--path=" + record.logPath + "&--done=" + done;
  if (record.hostConfig.contains("LogConfig") && record.hostConfig["LogConfig"].is_object()) {
    auto opts = record.hostConfig["LogConfig"].value("Config", json::object());
    if (opts.contains("max-size")) logArgs += "&--max-size=" + opts["max-size"].get<std::string>();
    if (opts.contains("max-file")) logArgs += "&--max-file=" + opts["max-file"].get<std::string>();
  }
  // stdin stays open for the container's whole life unless a single attach owns it.
  if (openStdin && !stdinOnce) logArgs += "&--hold=" + stdinFifo;

  TaskStdio stdio;
  stdio.terminal = tty;
  if (!openStdin || tty) {
    // The shim runs berth-logger: output never passes through a berth service.
    stdio.out = "binary://" + paths_.loggerBinary + "?" + logArgs;
    stdio.err = tty ? "" : stdio.out;
    if (openStdin) stdio.in = stdinFifo;
    return stdio;
  }
  // Without a terminal the shim copies stdin only for fifo stdio: berth starts the logger
  // itself, detached, on the output fifos.
  stdio.in = stdinFifo;
  stdio.out = run + "/stdout";
  stdio.err = run + "/stderr";
  makeFifo(stdio.out);
  makeFifo(stdio.err);
  std::vector<std::string> argv = {paths_.loggerBinary, "--path", record.logPath, "--done", done,
                                   "--stdout-fifo", stdio.out, "--stderr-fifo", stdio.err};
  if (!stdinOnce) argv.insert(argv.end(), {"--hold", stdinFifo});
  host_.spawnDetached(argv);
  return stdio;
}

void TaskLauncher::releaseStdio(const ContainerRecord& record, const TaskStdio& stdio) {
  bool detachedLogger = record.config.value("OpenStdin", false) && !record.config.value("Tty", false);
  if (!detachedLogger) return;
  // The detached logger waits on the output fifos: connecting and closing a writer ends it.
  for (const auto& f : {stdio.out, stdio.err}) {
    int fd = ::open(f.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) ::close(fd);
  }
}

uint32_t TaskLauncher::createRuntime(const ContainerRecord& record, const json& spec, const TaskStdio& stdio,
                                     Deadline deadline) {
  const std::string& id = record.id;
  auto t0 = std::chrono::steady_clock::now();
  teardown_.runtimeCreated(id);
  try {
    containers_.create(id, spec.dump(), capped(deadline, 10s));
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::conflict) throw;
    // Left by a start or an exit that did not finish: made sure to be gone (never while a
    // task of it runs), then registered afresh.
    teardown_.ensureGone(id, capped(deadline, 30s));
    containers_.create(id, spec.dump(), capped(deadline, 10s));
  }
  auto t1 = std::chrono::steady_clock::now();
  tasks_.create(id, stdio, {}, capped(deadline, 30s));
  auto t2 = std::chrono::steady_clock::now();
  uint32_t pid = tasks_.start(id, "", capped(deadline, 30s));
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  spdlog::debug("containers: start {}: containerd container {:.1f} ms, task {:.1f} ms, start {:.1f} ms", shortId(id),
                ms(t1 - t0), ms(t2 - t1), ms(std::chrono::steady_clock::now() - t2));
  return pid;
}

}  // namespace berth::bridge
