#include "services/containerd-bridge/container_views.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "common/errors.h"
#include "common/files.h"
#include "common/json_text.h"
#include "common/time_format.h"
#include "services/containerd-bridge/container_config.h"
#include "services/containerd-bridge/public/container_filter.h"

namespace berth::bridge {

using json = nlohmann::json;

namespace {

json stateJson(const ContainerRecord& r) {
  const auto& s = r.state;
  auto flags = flagsOf(s.status);
  json state = {{"Status", statusName(s.status)},
          {"Running", flags.running},
          {"Paused", flags.paused},
          {"Restarting", flags.restarting},
          {"OOMKilled", s.oomKilled},
          {"Dead", flags.dead},
          {"Pid", s.pid},
          {"ExitCode", s.exitCode},
          {"Error", s.error},
          {"StartedAt", s.startedAt},
          {"FinishedAt", s.finishedAt}};
  if (s.health.is_object()) state["Health"] = s.health;
  return state;
}

// "starting", "healthy", "unhealthy", or "none" without a health check.
std::string healthOf(const ContainerRecord& r) {
  return r.state.health.is_object() ? r.state.health.value("Status", "none") : "none";
}

// Docker's MountPoint documents (inspect's and ps's Mounts), from the mount points planned at
// create: a volume shows its name, driver and host path; a bind its propagation.
json mountsJson(const ContainerRecord& r) {
  json mounts = json::array();
  for (const auto& p : r.mountPoints) {
    json m = {{"Type", p.type == MountPoint::Type::bind ? "bind" : p.type == MountPoint::Type::volume ? "volume" : "tmpfs"}};
    if (p.type == MountPoint::Type::volume) m["Name"] = p.name;
    m["Source"] = p.source;
    m["Destination"] = p.destination;
    if (p.type == MountPoint::Type::volume) m["Driver"] = p.driver;
    m["Mode"] = p.mode;
    m["RW"] = p.readWrite;
    m["Propagation"] = p.propagation;
    mounts.push_back(std::move(m));
  }
  return mounts;
}

// A listing's Status, split into what the record fixes and the clock's part (statusLine).
struct StatusClock {
  std::string prefix;
  int64_t since = -1;  // negative: no duration
  std::string suffix;
};

StatusClock statusClock(const ContainerRecord& r) {
  using S = ContainerStatus;
  auto s = r.state.status;
  if (s == S::running) {
    std::string health = healthOf(r);
    int64_t started = parseRfc3339Nanos(r.state.startedAt);
    if (health == "starting") return {"Up ", started, " (health: starting)"};
    if (health != "none") return {"Up ", started, " (" + health + ")"};
    return {"Up ", started, ""};
  }
  if (s == S::paused) return {"Up ", parseRfc3339Nanos(r.state.startedAt), " (Paused)"};
  if (s == S::restarting) {
    return {"Restarting (" + std::to_string(r.state.exitCode) + ") ", parseRfc3339Nanos(r.state.finishedAt), " ago"};
  }
  if (s == S::removing) return {"Removal In Progress", -1, ""};
  if (s == S::dead) return {"Dead", -1, ""};
  if (s == S::exited || r.hasBeenStarted) {
    return {"Exited (" + std::to_string(r.state.exitCode) + ") ", parseRfc3339Nanos(r.state.finishedAt), " ago"};
  }
  return {"Created", -1, ""};
}

std::string statusText(const ContainerRecord& r) {
  auto clock = statusClock(r);
  return statusLine(clock.prefix, clock.since, clock.suffix, nowUnixNanos());
}

std::string commandText(const ContainerRecord& r) {
  std::string cmd = r.path;
  for (const auto& a : r.args) cmd += " " + a;
  return cmd;
}

// Docker's empty endpoint, as inspect shows a network the container has no address on (yet).
json emptyEndpoint() {
  return {{"IPAMConfig", json()}, {"Links", json()}, {"Aliases", json()}, {"NetworkID", ""},
          {"EndpointID", ""}, {"Gateway", ""}, {"IPAddress", ""}, {"IPPrefixLen", 0},
          {"IPv6Gateway", ""}, {"GlobalIPv6Address", ""}, {"GlobalIPv6PrefixLen", 0}, {"MacAddress", ""},
          {"DriverOpts", json()}};
}

// NetworkSettings as dockerd shows it: the networks the network service connected the
// container to (addresses only while it runs, as dockerd releases them at stop), the published
// ports and the exposed ones without a binding (null), and the default bridge's address at the
// top level.
json networkSettingsJson(const ContainerRecord& r) {
  bool live = hasLiveTask(r.state.status);
  std::string mode = r.hostConfig.value("NetworkMode", "default");
  const json& settings = r.networkSettings.is_object() ? r.networkSettings : json::object();
  json networks = settings.value("Networks", json::object());
  if (networks.empty() && mode.rfind("container:", 0) != 0) {
    networks[mode == "default" ? "bridge" : mode] = emptyEndpoint();
    for (auto it = r.endpointsConfig.begin(); it != r.endpointsConfig.end(); ++it) {
      if (!networks.contains(it.key())) networks[it.key()] = emptyEndpoint();
    }
  }
  if (!live) {
    for (auto& n : networks) {
      for (const char* key : {"EndpointID", "Gateway", "IPAddress", "MacAddress"}) n[key] = "";
      n["IPPrefixLen"] = 0;
    }
  }
  json ports = json::object();
  if (live) ports = settings.value("Ports", json::object());
  auto exposed = r.config.value("ExposedPorts", json::object());
  if (exposed.is_object() && mode != "host" && mode.rfind("container:", 0) != 0) {
    for (auto it = exposed.begin(); it != exposed.end(); ++it) {
      if (!ports.contains(it.key())) ports[it.key()] = json();
    }
  }
  json top = networks.contains("bridge") ? networks["bridge"] : emptyEndpoint();
  return {{"Bridge", ""},
          {"SandboxID", live ? settings.value("SandboxID", "") : ""},
          {"HairpinMode", false},
          {"LinkLocalIPv6Address", ""},
          {"LinkLocalIPv6PrefixLen", 0},
          {"Ports", ports},
          {"SandboxKey", live ? settings.value("SandboxKey", "") : ""},
          {"SecondaryIPAddresses", json()},
          {"SecondaryIPv6Addresses", json()},
          {"EndpointID", top["EndpointID"]},
          {"Gateway", top["Gateway"]},
          {"GlobalIPv6Address", ""},
          {"GlobalIPv6PrefixLen", 0},
          {"IPAddress", top["IPAddress"]},
          {"IPPrefixLen", top["IPPrefixLen"]},
          {"IPv6Gateway", ""},
          {"MacAddress", top["MacAddress"]},
          {"Networks", networks}};
}

// The PORTS of a listing: each published binding, and each exposed port without one.
json portsListJson(const ContainerRecord& r) {
  json out = json::array();
  json ports = networkSettingsJson(r)["Ports"];
  for (auto it = ports.begin(); it != ports.end(); ++it) {
    auto slash = it.key().find('/');
    int privatePort = std::atoi(it.key().substr(0, slash).c_str());
    std::string type = slash == std::string::npos ? "tcp" : it.key().substr(slash + 1);
    if (!it->is_array()) {
      out.push_back({{"PrivatePort", privatePort}, {"Type", type}});
      continue;
    }
    for (const auto& b : *it) {
      out.push_back({{"IP", b.value("HostIp", "")},
                     {"PrivatePort", privatePort},
                     {"PublicPort", std::atoi(b.value("HostPort", "0").c_str())},
                     {"Type", type}});
    }
  }
  return out;
}


// dockerd's validatePSArgs: an output column may be renamed to PID only for the pid column.
void validatePsArgs(const std::string& psArgs) {
  static const std::regex renamed("\\s+([^\\s]*)=\\s*(PID[^\\s]*)");
  for (std::sregex_iterator it(psArgs.begin(), psArgs.end(), renamed), end; it != end; ++it) {
    if ((*it)[1] != "pid") throw Error(ErrorKind::internal, "specifying \"" + (*it)[1].str() + "=" + (*it)[2].str() + "\" is not allowed");
  }
}

// `ps` with the client's arguments as its argv, split on white space as dockerd splits them: no
// shell ever sees them, so nothing in them is a command. Its stdout's lines; a failure is
// dockerd's "ps: " and the first line ps wrote on stderr.
std::vector<std::string> runPs(const std::string& psArgs) {
  validatePsArgs(psArgs);
  std::vector<std::string> args = {"ps"};
  std::istringstream fields(psArgs);
  for (std::string f; fields >> f;) args.push_back(f);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throwSystemError("pipe2", "ps");
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    throwSystemError("pipe2", "ps");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  pid_t pid = 0;
  int spawned = ::posix_spawnp(&pid, "ps", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  std::string stdoutText, stderrText;
  if (spawned == 0) {
    // Both pipes at once, so neither can fill while the other is read.
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open = 2;
    char buf[8192];
    while (open > 0) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (auto& p : fds) {
        if (p.fd < 0 || !p.revents) continue;
        ssize_t n = ::read(p.fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          p.fd = -1;
          --open;
          continue;
        }
        (p.fd == out[0] ? stdoutText : stderrText).append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(out[0]);
  ::close(err[0]);
  if (spawned != 0) throw Error(ErrorKind::internal, std::string("running ps: ") + std::strerror(spawned));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::istringstream errLines(stderrText);
    std::string first;
    while (std::getline(errLines, first) && first.find_first_not_of(" \t") == std::string::npos) {
    }
    throw Error(ErrorKind::internal, "ps: " + first);
  }
  std::vector<std::string> lines;
  std::istringstream outLines(stdoutText);
  for (std::string l; std::getline(outLines, l);) lines.push_back(l);
  return lines;
}

}  // namespace

json inspectedConfig(const ContainerRecord& r) {
  json config = r.config;
  for (const char* key : {"AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"}) {
    if (!config.contains(key)) config[key] = false;
  }
  if (!config.contains("Labels") || config["Labels"].is_null()) config["Labels"] = json::object();
  return config;
}

namespace {

json inspectDocument(const ContainerRecord& r, const std::string& dir, json execIds) {
  json hostConfig = r.hostConfig;
  for (const char* key : {"Binds", "Links", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "CapAdd", "CapDrop",
                          "GroupAdd", "SecurityOpt"}) {
    if (!hostConfig.contains(key)) hostConfig[key] = json();
  }
  if (!hostConfig.contains("RestartPolicy")) hostConfig["RestartPolicy"] = {{"Name", "no"}, {"MaximumRetryCount", 0}};
  if (!hostConfig.contains("LogConfig")) hostConfig["LogConfig"] = {{"Type", "json-file"}, {"Config", json::object()}};
  // Records made before create recorded the runtime ran with runc, the only one.
  if (!hostConfig.contains("Runtime") || !hostConfig["Runtime"].is_string()) hostConfig["Runtime"] = "runc";
  json config = inspectedConfig(r);
  return {{"Id", r.id},
          {"Created", r.created},
          {"Path", r.path},
          {"Args", r.args},
          {"State", stateJson(r)},
          {"Image", r.image},
          {"ResolvConfPath", dir + "/resolv.conf"},
          {"HostnamePath", dir + "/hostname"},
          {"HostsPath", dir + "/hosts"},
          {"LogPath", r.logPath},
          {"Name", r.name},
          {"RestartCount", r.restartCount},
          {"Driver", "overlay2"},
          {"Platform", "linux"},
          {"MountLabel", ""},
          {"ProcessLabel", ""},
          {"AppArmorProfile", ""},
          {"ExecIDs", std::move(execIds)},
          {"HostConfig", hostConfig},
          {"GraphDriver", {{"Name", "overlay2"}, {"Data", json::object()}}},
          {"Mounts", mountsJson(r)},
          {"Config", config},
          {"NetworkSettings", networkSettingsJson(r)}};
}

json listEntry(const ContainerRecord& r, int64_t created, json status) {
  json labels = r.config.value("Labels", json::object());
  return {{"Id", r.id},
          {"Names", {r.name}},
          {"Image", r.imageRef},
          {"ImageID", r.image},
          {"Command", commandText(r)},
          {"Created", created / 1000000000},
          {"Ports", portsListJson(r)},
          {"Labels", labels.is_object() ? labels : json::object()},
          {"State", statusName(r.state.status)},
          {"Status", std::move(status)},
          {"HostConfig", {{"NetworkMode", r.hostConfig.value("NetworkMode", "default")}}},
          {"NetworkSettings", {{"Networks", networkSettingsJson(r)["Networks"]}}},
          {"Mounts", mountsJson(r)}};
}

// What docker ps --filter looks at (container_filter.h), from the record.
ContainerFacts factsOf(const ContainerRecord& r, int64_t created) {
  ContainerFacts c;
  c.id = r.id;
  c.name = r.name;
  c.created = created;
  c.state = statusName(r.state.status);
  c.running = flagsOf(r.state.status).running;
  c.started = r.hasBeenStarted;
  c.exitCode = r.state.exitCode;
  c.health = healthOf(r);
  c.imageId = r.image;
  c.imageRef = r.imageRef;
  c.labels = stringEntries(r.config.value("Labels", json()));
  for (const auto& p : r.mountPoints) {
    c.volumes.push_back(p.destination);
    c.volumes.push_back(p.type == MountPoint::Type::volume ? p.name : p.source);
  }
  json settings = networkSettingsJson(r);
  for (auto it = settings["Networks"].begin(); it != settings["Networks"].end(); ++it) {
    c.networks.emplace_back(it.key(), it->value("NetworkID", ""));
  }
  if (hasLiveTask(r.state.status)) {
    const json& ports = settings["Ports"];
    for (auto it = ports.begin(); it != ports.end(); ++it) {
      c.exposed.push_back(it.key());
      auto slash = it.key().find('/');
      std::string proto = slash == std::string::npos ? "tcp" : it.key().substr(slash + 1);
      if (!it->is_array() || it->empty()) {
        c.published.push_back("0/" + proto);  // dockerd 20.10 lists an unbound port as host port 0
        continue;
      }
      for (const auto& b : *it) {
        std::string hostPort = b.is_object() ? b.value("HostPort", "") : "";
        c.published.push_back((hostPort.empty() ? "0" : hostPort) + "/" + proto);
      }
    }
  }
  return c;
}

// Where the per-call part goes in a rendered document: a string no record holds (checked).
const json& renderMarker() {
  static const json marker = "\u0001berth-per-call\u0001";
  return marker;
}

// `text` split at the marker, or nullopt when it is not there exactly once (a record holding
// the marker's text itself is rendered whole on every call instead).
std::optional<std::pair<std::string, std::string>> splitAtMarker(const std::string& text) {
  static const std::string m = renderMarker().dump();
  auto at = text.find(m);
  if (at == std::string::npos || text.find(m, at + 1) != std::string::npos) return std::nullopt;
  return std::make_pair(text.substr(0, at), text.substr(at + m.size()));
}

}  // namespace

json ContainerViews::inspect(const std::string& ref) const {
  auto r = store_.find(ref);
  return inspectDocument(*r, store_.directoryOf(r->id), execs_.idsOf(r->id));
}

std::string ContainerViews::inspectText(const std::string& ref) const {
  auto r = store_.find(ref);
  auto done = rendered(r, 0);
  if (done->inspectHead.empty()) return inspectDocument(*r, store_.directoryOf(r->id), execs_.idsOf(r->id)).dump();
  return done->inspectHead + execs_.idsOf(r->id).dump() + done->inspectTail;
}

std::shared_ptr<const ContainerViews::Rendered> ContainerViews::rendered(
    const std::shared_ptr<const ContainerRecord>& record, int64_t created) const {
  {
    std::lock_guard lock(renderedMutex_);
    auto it = rendered_.find(record->id);
    if (it != rendered_.end() && it->second->record.lock() == record) return it->second;
  }
  if (created == 0) created = parseRfc3339Nanos(record->created);
  auto r = std::make_shared<Rendered>();
  r->record = record;
  r->facts = factsOf(*record, created);
  if (auto list = splitAtMarker(listEntry(*record, created, renderMarker()).dump())) {
    r->listHead = std::move(list->first);
    r->listTail = std::move(list->second);
  }
  if (auto inspect = splitAtMarker(inspectDocument(*record, store_.directoryOf(record->id), renderMarker()).dump())) {
    r->inspectHead = std::move(inspect->first);
    r->inspectTail = std::move(inspect->second);
  }
  std::lock_guard lock(renderedMutex_);
  rendered_[record->id] = r;
  if (rendered_.size() >= sweepRenderedAt_) {
    // Removed containers' renderings: their records are gone, so their pointers expired.
    std::erase_if(rendered_, [](const auto& entry) { return entry.second->record.expired(); });
    sweepRenderedAt_ = std::max<size_t>(256, rendered_.size() * 2);
  }
  return r;
}

void ContainerViews::forget(const std::string& id) const {
  std::lock_guard lock(renderedMutex_);
  rendered_.erase(id);
  std::erase_if(rendered_, [](const auto& entry) { return entry.second->record.expired(); });
}

size_t ContainerViews::keptRenderings() const {
  std::lock_guard lock(renderedMutex_);
  return rendered_.size();
}

ContainerViews::Parts ContainerViews::parts(const std::shared_ptr<const ContainerRecord>& record) const {
  Parts p;
  p.id = record->id;
  p.name = record->name;
  p.created = parseRfc3339Nanos(record->created);
  p.running = flagsOf(record->state.status).running;
  auto done = rendered(record, p.created);
  p.servable = !done->inspectHead.empty() && !done->listHead.empty();
  p.facts = done->facts;
  if (p.servable) {
    p.inspectHead = done->inspectHead;
    p.inspectTail = done->inspectTail;
    p.listHead = done->listHead;
    p.listTail = done->listTail;
  }
  auto clock = statusClock(*record);
  p.statusPrefix = std::move(clock.prefix);
  p.statusSince = clock.since;
  p.statusSuffix = std::move(clock.suffix);
  return p;
}

std::vector<ContainerViews::Listed> ContainerViews::select(const ListOptions& options, Deadline deadline) const {
  ContainerFilter filter(options.filters.empty() ? "" : options.filters.dump());
  auto createdOf = [&](const std::string& ref) { return parseRfc3339Nanos(store_.get(ref).created); };
  std::optional<int64_t> before, since;
  if (filter.beforeRef()) before = createdOf(*filter.beforeRef());
  if (filter.sinceRef()) since = createdOf(*filter.sinceRef());
  filter.setBounds(before, since);
  // ancestor: by image id or by the reference the container was created from.
  std::set<std::string> ancestorIds;
  for (const auto& a : filter.ancestors()) {
    try {
      ancestorIds.insert(images_.inspect(a, deadline).id);
    } catch (const Error&) {
      ancestorIds.insert(a);
    }
  }
  filter.setAncestorIds(std::move(ancestorIds));
  std::vector<std::pair<std::shared_ptr<const Rendered>, std::shared_ptr<const ContainerRecord>>> all;
  for (auto& r : store_.snapshot()) all.emplace_back(rendered(r, 0), std::move(r));
  auto listed = selectContainers(std::move(all), filter, options.all, options.limit,
                                 [](const auto& item) -> const ContainerFacts& { return item.first->facts; });
  std::vector<Listed> out;
  out.reserve(listed.size());
  for (auto& [done, record] : listed) out.push_back({done->facts.created, std::move(record)});
  return out;
}

json ContainerViews::list(const ListOptions& options, Deadline deadline) const {
  json out = json::array();
  for (const auto& [created, record] : select(options, deadline)) out.push_back(listEntry(*record, created, statusText(*record)));
  return out;
}

std::string ContainerViews::listText(const ListOptions& options, Deadline deadline) const {
  return listText(options, deadline, nullptr);
}

std::string ContainerViews::listText(const ListOptions& options, Deadline deadline, const SizesOf& sizesOf) const {
  auto listed = select(options, deadline);
  std::map<std::string, images::ContainerSize> sizes;
  if (sizesOf && !listed.empty()) {
    std::vector<std::string> ids;
    ids.reserve(listed.size());
    for (const auto& l : listed) ids.push_back(l.record->id);
    sizes = sizesOf(ids);
  }
  std::string out = "[";
  for (const auto& [created, record] : listed) {
    if (out.size() > 1) out += ',';
    auto size = sizes.find(record->id);
    auto done = rendered(record, created);
    // A kept rendering is the entry's text with its Status left out; the sizes go before the
    // entry's closing brace. (Rendering the entry again per call was 40 % of the bridge's time
    // for `docker system df`, a third of it the network settings.)
    if (done->listHead.empty() || done->listTail.empty() || done->listTail.back() != '}') {
      json entry = listEntry(*record, created, statusText(*record));
      if (size != sizes.end()) {
        entry["SizeRw"] = size->second.rw;
        entry["SizeRootFs"] = size->second.rootFs;
      }
      out += entry.dump();
      continue;
    }
    out += done->listHead;
    out += json(statusText(*record)).dump();
    if (size == sizes.end()) {
      out += done->listTail;
    } else {
      out.append(done->listTail, 0, done->listTail.size() - 1);
      out += ",\"SizeRootFs\":" + std::to_string(size->second.rootFs) +
             ",\"SizeRw\":" + std::to_string(size->second.rw) + "}";
    }
  }
  out += ']';
  return out;
}

}  // namespace berth::bridge

namespace berth::bridge {

json ContainerViews::stats(const std::string& ref) const {
  auto record = store_.get(ref);
  std::optional<json> sample;
  if (hasLiveTask(record.state.status)) sample = readContainerStats(cgroups_, "/" + paths_.cgroupParent + "/" + record.id);
  json doc = sample ? *sample : stoppedContainerStats();
  if (sample) {
    if (auto networks = readNetworkStats("/proc", record.state.pid)) doc["networks"] = *networks;
  }
  doc["name"] = record.name;
  doc["id"] = record.id;
  return doc;
}

json ContainerViews::top(const std::string& ref, const std::string& psArgs, Deadline deadline) const {
  auto record = store_.get(ref);
  admit(Operation::top, record.state.status, {record.id, record.name, ref});
  auto pids = tasks_.pids(record.id, deadline);
  std::vector<std::string> lines = runPs(psArgs.empty() ? "-ef" : psArgs);
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

AttachTarget ContainerViews::attachTarget(const std::string& ref) const {
  auto record = store_.get(ref);
  AttachTarget t;
  t.id = record.id;
  t.tty = record.config.value("Tty", false);
  t.openStdin = record.config.value("OpenStdin", false);
  t.stdinOnce = record.config.value("StdinOnce", false);
  t.logPath = record.logPath;
  t.stdinFifo = paths_.runDirOf(record.id) + "/stdin";
  t.loggerDone = paths_.runDirOf(record.id) + "/logger.done";
  t.status = record.state.status;
  t.exits = record.exits;
  t.logReadable = record.hostConfig.value("LogConfig", json::object()).value("Type", "json-file") != "none";
  if (t.openStdin) {
    makeDirectories(paths_.runDirOf(record.id), 0700);
    if (::mkfifo(t.stdinFifo.c_str(), 0600) != 0 && errno != EEXIST) throwSystemError("mkfifo", t.stdinFifo);
  }
  return t;
}

}  // namespace berth::bridge
