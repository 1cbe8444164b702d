#include "services/containerd-bridge/task_launcher.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "common/files.h"
#include "common/random.h"
#include "services/containerd-bridge/container_spec.h"
#include "services/containerd-bridge/log_config.h"
#include "services/containerd-bridge/oci_spec.h"

namespace berth::bridge {
namespace {

// Percent-encodes everything but unreserved characters and '/', which Go's query parser reads
// back unchanged ('+' would become a space, '&' and '#' would end the value).
std::string queryEscape(const std::string& value) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

using json = nlohmann::json;
using namespace std::chrono_literals;


double msSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// dockerd's standard entries of a container's /etc/hosts.
constexpr const char* kStandardHosts =
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

std::vector<std::string> stringList(const json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

bool loopbackNameserver(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address == "::1";
}

// The container's resolv.conf as dockerd writes it: --dns, --dns-search and --dns-option
// replace the host's lines; on a user network the network's resolver is the nameserver; else
// the host's nameservers but its loopback ones (unreachable from the container's namespace),
// and Google's when none is left, as dockerd does.
std::string resolvConf(const std::string& host, const ContainerRecord& record, bool hostNetwork) {
  std::vector<std::string> nameservers, search, options;
  std::istringstream lines(host);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    std::vector<std::string> values;
    for (std::string v; fields >> v;) values.push_back(v);
    if (key == "nameserver" && !values.empty()) nameservers.push_back(values[0]);
    else if (key == "search" || key == "domain") search = values;
    else if (key == "options") options.insert(options.end(), values.begin(), values.end());
  }
  auto dns = stringList(record.hostConfig.value("Dns", json()));
  auto dnsSearch = stringList(record.hostConfig.value("DnsSearch", json()));
  auto dnsOptions = stringList(record.hostConfig.value("DnsOptions", json()));
  auto resolvers = stringList(record.networkSettings.is_object() ? record.networkSettings.value("Nameservers", json()) : json());
  if (!dns.empty()) {
    nameservers = dns;
  } else if (!resolvers.empty()) {
    nameservers = resolvers;
  } else if (!hostNetwork) {
    std::erase_if(nameservers, loopbackNameserver);
    if (nameservers.empty()) nameservers = {"8.8.8.8", "8.8.4.4"};
  }
  if (!dnsSearch.empty()) search = dnsSearch;
  if (!dnsOptions.empty()) options = dnsOptions;
  std::string out;
  if (!search.empty() && search != std::vector<std::string>{"."}) {
    out += "search";
    for (const auto& s : search) out += " " + s;
    out += "\n";
  }
  for (const auto& n : nameservers) out += "nameserver " + n + "\n";
  if (!options.empty()) {
    out += "options";
    for (const auto& o : options) out += " " + o;
    out += "\n";
  }
  return out;
}

// --add-host entries, "name:ip" (or "name=ip"); host-gateway is the default bridge's gateway
// (from the network service), as dockerd's default host-gateway-ip.
std::string extraHosts(const ContainerRecord& record, const std::string& hostGateway) {
  std::string out;
  for (const auto& entry : stringList(record.hostConfig.value("ExtraHosts", json()))) {
    auto sep = entry.find_first_of(":=");
    if (sep == std::string::npos) continue;
    std::string ip = entry.substr(sep + 1);
    if (ip == "host-gateway") ip = hostGateway;
    if (ip.empty()) continue;
    out += ip + "\t" + entry.substr(0, sep) + "\n";
  }
  return out;
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
  try {
    // The last run's task may still be being deleted, after its exit was recorded: that ends
    // before this run's task is made.
    teardown_.settle(id, capped(deadline, 60s));
  } catch (const Error& e) {
    throw LaunchError(e.kind(), e.what(), 128);
  }
  makeDirectories(paths_.runDirOf(id), 0700);
  auto began = std::chrono::steady_clock::now();
  json spec;
  bool storagePrepared = false;
  try {
    auto volumeMounts = prepareStorage(record, deadline);
    storagePrepared = true;
    spdlog::debug("containers: start {}: rootfs and volumes {:.1f} ms", shortId(id), msSince(began));
    std::string netns = networks_.attach(record, deadline);
    auto attached = store_.get(record.id);  // with the addresses the attach recorded
    std::string mode = attached.hostConfig.value("NetworkMode", "default");
    std::vector<ContainerLink> links;
    if (mode == "default" || mode == "bridge") links = resolveLinks(attached, store_);
    writeHostFiles(attached, links);
    auto specBegan = std::chrono::steady_clock::now();
    spec = finaliseSpec(record, volumeMounts, linkEnv(links), netns);
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

void TaskLauncher::writeHostFiles(const ContainerRecord& record, const std::vector<ContainerLink>& links) {
  std::string dir = store_.directoryOf(record.id);
  // Written again at every start, from the record and the host: atomic, not durable.
  std::string hostname = record.config.value("Hostname", shortId(record.id));
  std::string domain = record.config.value("Domainname", "");
  writeFileReplacing(dir + "/hostname", hostname + "\n");
  std::string mode = record.hostConfig.value("NetworkMode", "default");
  if (mode.rfind("container:", 0) == 0) {
    // The namespace's owner's files, as dockerd shares them.
    auto target = store_.get(mode.substr(10));
    std::string targetDir = store_.directoryOf(target.id);
    writeFileReplacing(dir + "/hosts", readFileIfExists(targetDir + "/hosts").value_or(kStandardHosts));
    writeFileReplacing(dir + "/resolv.conf", readFileIfExists(targetDir + "/resolv.conf").value_or(""));
    return;
  }
  bool hostNetwork = mode == "host";
  std::string hosts;
  std::string hostGateway;
  std::string ownAddress;
  if (record.networkSettings.is_object()) {
    const auto& networks = record.networkSettings.value("Networks", json::object());
    for (auto it = networks.begin(); it != networks.end(); ++it) {
      if (ownAddress.empty()) ownAddress = it->value("IPAddress", "");
    }
    hostGateway = record.networkSettings.value("HostGateway", "");
  }
  if (hostNetwork) {
    hosts = host_.readHostFile("/etc/hosts");
  } else {
    hosts = kStandardHosts;
  }
  hosts += extraHosts(record, hostGateway);
  hosts += linkHosts(links);
  std::string names = domain.empty() ? hostname : hostname + "." + domain + " " + hostname;
  if (!ownAddress.empty()) hosts += ownAddress + "\t" + names + "\n";
  else if (!hostNetwork) hosts += "127.0.1.1\t" + names + "\n";
  writeFileReplacing(dir + "/hosts", hosts);
  writeFileReplacing(dir + "/resolv.conf", resolvConf(host_.readHostFile("/etc/resolv.conf"), record, hostNetwork));
}

json TaskLauncher::finaliseSpec(const ContainerRecord& record, const std::vector<json>& volumeMounts,
                                const std::vector<std::string>& extraEnv, const std::string& netns) {
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
  for (const auto& e : extraEnv) spec["process"]["env"].push_back(e);  // links' variables, for this run
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
  ::unlink(loggerPidFile(run).c_str());
  std::string stdinFifo = run + "/stdin";
  if (openStdin) makeFifo(stdinFifo);
  // The options' values are checked here, at start, where dockerd's logger checks them.
  auto log = logSettings(record.hostConfig.value("LogConfig", json()));
  // containerd parses the URI's query with Go's url package: a path holding '&', '+', '%' or
  // '#' would be cut or changed there unless it is escaped.
  std::string logArgs = "--path=" + queryEscape(record.logPath) + "&--done=" + queryEscape(done) +
                        "&--max-size=" + std::to_string(log.maxSize) + "&--max-file=" + std::to_string(log.maxFiles);
  // stdin stays open for the container's whole life unless a single attach owns it.
  if (openStdin && !stdinOnce) logArgs += "&--hold=" + queryEscape(stdinFifo);

  TaskStdio stdio;
  stdio.terminal = tty;
  if (!openStdin || tty) {
    // The shim runs berth-logger: output never passes through a berth service. Without a
    // terminal the container writes into the logger's pipes itself, so the logger can tell when
    // it has all of it (drainLogger).
    if (!tty) logArgs += "&--pid-file=" + queryEscape(loggerPidFile(run));
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
                                   "--stdout-fifo", stdio.out, "--stderr-fifo", stdio.err,
                                   "--max-size", std::to_string(log.maxSize), "--max-file", std::to_string(log.maxFiles)};
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
    // task of it runs), then registered afresh. This run's mounts stay.
    teardown_.ensureGone(id, capped(deadline, 30s), true);
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
