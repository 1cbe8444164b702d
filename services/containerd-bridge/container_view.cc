// How containers look to Docker clients: GET /containers/{id}/json and the entries and filters
// of GET /containers/json, rendered from store snapshots (never waiting on a busy container).
#include <set>

#include "common/errors.h"
#include "common/time_format.h"
#include "services/containerd-bridge/container_service.h"

namespace berth::bridge {

using json = nlohmann::json;

namespace {

json stateJson(const ContainerRecord& r) {
  const auto& s = r.state;
  json state = {{"Status", s.status == "removing" ? "removing" : s.status},
          {"Running", s.status == "running" || s.status == "paused"},
          {"Paused", s.status == "paused"},
          {"Restarting", s.status == "restarting"},
          {"OOMKilled", s.oomKilled},
          {"Dead", s.status == "dead"},
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

json mountsJson(const ContainerRecord& r) {
  json mounts = json::array();
  if (r.hostConfig.contains("Binds") && r.hostConfig["Binds"].is_array()) {
    for (const auto& b : r.hostConfig["Binds"]) {
      std::string spec = b.get<std::string>();
      std::vector<std::string> parts;
      size_t start = 0;
      for (size_t i = 0; i <= spec.size(); ++i) {
        if (i == spec.size() || spec[i] == ':') {
          parts.push_back(spec.substr(start, i - start));
          start = i + 1;
        }
      }
      if (parts.size() < 2) continue;
      std::string mode = parts.size() > 2 ? parts[2] : "";
      bool rw = mode.find("ro") == std::string::npos;
      mounts.push_back({{"Type", "bind"}, {"Source", parts[0]}, {"Destination", parts[1]}, {"Mode", mode},
                        {"RW", rw}, {"Propagation", "rprivate"}});
    }
  }
  if (r.hostConfig.contains("Mounts") && r.hostConfig["Mounts"].is_array()) {
    for (const auto& m : r.hostConfig["Mounts"]) {
      if (m.value("Type", "") != "bind") continue;
      mounts.push_back({{"Type", "bind"}, {"Source", m.value("Source", "")}, {"Destination", m.value("Target", "")},
                        {"Mode", ""}, {"RW", !m.value("ReadOnly", false)}, {"Propagation", "rprivate"}});
    }
  }
  return mounts;
}

std::string statusText(const ContainerRecord& r) {
  int64_t now = nowUnixNanos();
  auto ago = [&](const std::string& t) {
    int64_t at = parseRfc3339Nanos(t);
    return humanDuration(std::chrono::seconds(at > 0 && now > at ? (now - at) / 1000000000 : 0));
  };
  const auto& s = r.state.status;
  if (s == "running") {
    std::string health = healthOf(r);
    if (health == "starting") return "Up " + ago(r.state.startedAt) + " (health: starting)";
    if (health != "none") return "Up " + ago(r.state.startedAt) + " (" + health + ")";
    return "Up " + ago(r.state.startedAt);
  }
  if (s == "paused") return "Up " + ago(r.state.startedAt) + " (Paused)";
  if (s == "restarting") return "Restarting (" + std::to_string(r.state.exitCode) + ") " + ago(r.state.finishedAt) + " ago";
  if (s == "removing") return "Removal In Progress";
  if (s == "dead") return "Dead";
  if (s == "exited" || r.hasBeenStarted) {
    return "Exited (" + std::to_string(r.state.exitCode) + ") " + ago(r.state.finishedAt) + " ago";
  }
  return "Created";
}

std::string commandText(const ContainerRecord& r) {
  std::string cmd = r.path;
  for (const auto& a : r.args) cmd += " " + a;
  return cmd;
}

std::set<std::string> filterValues(const json& filters, const std::string& key) {
  std::set<std::string> out;
  if (!filters.contains(key)) return out;
  const auto& v = filters[key];
  if (v.is_array()) {
    for (const auto& e : v) out.insert(e.get<std::string>());
  } else if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) out.insert(it.key());
  }
  return out;
}

bool labelsMatch(const json& labels, const std::set<std::string>& wanted) {
  for (const auto& w : wanted) {
    auto eq = w.find('=');
    std::string key = w.substr(0, eq);
    if (!labels.is_object() || !labels.contains(key)) return false;
    if (eq != std::string::npos && labels[key] != w.substr(eq + 1)) return false;
  }
  return true;
}

}  // namespace

json ContainerService::inspect(const std::string& ref) const {
  auto r = store_.get(ref);
  std::string dir = store_.directoryOf(r.id);
  json execIds = json();
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, e] : execs_) {
      if (e.containerId != r.id) continue;
      if (execIds.is_null()) execIds = json::array();
      execIds.push_back(id);
    }
  }
  json hostConfig = r.hostConfig;
  for (const char* key : {"Binds", "Links", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "CapAdd", "CapDrop",
                          "GroupAdd", "SecurityOpt"}) {
    if (!hostConfig.contains(key)) hostConfig[key] = json();
  }
  if (!hostConfig.contains("RestartPolicy")) hostConfig["RestartPolicy"] = {{"Name", "no"}, {"MaximumRetryCount", 0}};
  if (!hostConfig.contains("LogConfig")) hostConfig["LogConfig"] = {{"Type", "json-file"}, {"Config", json::object()}};
  json config = r.config;
  for (const char* key : {"AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"}) {
    if (!config.contains(key)) config[key] = false;
  }
  if (!config.contains("Labels") || config["Labels"].is_null()) config["Labels"] = json::object();
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
          {"ExecIDs", execIds},
          {"HostConfig", hostConfig},
          {"GraphDriver", {{"Name", "overlay2"}, {"Data", json::object()}}},
          {"Mounts", mountsJson(r)},
          {"Config", config},
          {"NetworkSettings",
           {{"Bridge", ""},
            {"SandboxID", ""},
            {"Ports", json::object()},
            {"SandboxKey", ""},
            {"Gateway", ""},
            {"IPAddress", ""},
            {"IPPrefixLen", 0},
            {"MacAddress", ""},
            {"Networks", json::object()}}}};
}

json ContainerService::list(const ListOptions& options) const {
  auto records = store_.list();
  std::sort(records.begin(), records.end(), [](const ContainerRecord& a, const ContainerRecord& b) {
    return parseRfc3339Nanos(a.created) > parseRfc3339Nanos(b.created);
  });
  const json& f = options.filters;
  static const std::set<std::string> known = {"id", "name", "label", "label!", "status", "exited", "ancestor",
                                              "before", "since", "volume", "health", "isolation", "network",
                                              "publish", "expose", "is-task"};
  for (auto it = f.begin(); it != f.end(); ++it) {
    if (!known.count(it.key())) throw Error(ErrorKind::invalid, "invalid filter '" + it.key() + "'");
  }
  auto ids = filterValues(f, "id"), names = filterValues(f, "name"), labels = filterValues(f, "label"),
       notLabels = filterValues(f, "label!"), statuses = filterValues(f, "status"), exited = filterValues(f, "exited"),
       ancestors = filterValues(f, "ancestor"), health = filterValues(f, "health");
  static const std::set<std::string> validStatus = {"created", "restarting", "running", "removing",
                                                    "paused",  "exited",     "dead"};
  for (const auto& s : statuses) {
    if (!validStatus.count(s)) throw Error(ErrorKind::invalid, "invalid filter 'status=" + s + "'");
  }
  std::optional<int64_t> before, since;
  auto createdOf = [&](const std::string& ref) { return parseRfc3339Nanos(store_.get(ref).created); };
  if (auto b = filterValues(f, "before"); !b.empty()) before = createdOf(*b.begin());
  if (auto s = filterValues(f, "since"); !s.empty()) since = createdOf(*s.begin());
  bool all = options.all || !statuses.empty() || !exited.empty() || before || since;
  // ancestor: by image id or by the reference the container was created from.
  std::set<std::string> ancestorIds;
  for (const auto& a : ancestors) {
    try {
      ancestorIds.insert(images_.inspect(a).id);
    } catch (const Error&) {
      ancestorIds.insert(a);
    }
  }

  json out = json::array();
  int limit = options.limit > 0 ? options.limit : -1;
  if (limit > 0) all = true;
  for (const auto& r : records) {
    const auto& s = r.state.status;
    bool running = s == "running" || s == "paused" || s == "restarting";
    if (!all && !running) continue;
    std::string name = r.name.substr(1);
    if (!ids.empty()) {
      bool ok = false;
      for (const auto& i : ids) ok = ok || r.id.rfind(i, 0) == 0;
      if (!ok) continue;
    }
    if (!names.empty()) {
      bool ok = false;
      for (const auto& n : names) ok = ok || name.find(n.front() == '/' ? n.substr(1) : n) != std::string::npos;
      if (!ok) continue;
    }
    json labelsJson = r.config.value("Labels", json::object());
    if (!labels.empty() && !labelsMatch(labelsJson, labels)) continue;
    if (!notLabels.empty()) {
      bool any = false;
      for (const auto& l : notLabels) any = any || labelsMatch(labelsJson, {l});
      if (any) continue;
    }
    if (!statuses.empty() && !statuses.count(s)) continue;
    if (!exited.empty()) {
      if (s != "exited" || !exited.count(std::to_string(r.state.exitCode))) continue;
    }
    if (!ancestors.empty() && !ancestorIds.count(r.image) && !ancestors.count(r.imageRef)) continue;
    if (!health.empty() && !health.count(healthOf(r))) continue;
    int64_t created = parseRfc3339Nanos(r.created);
    if (before && created >= *before) continue;
    if (since && created <= *since) continue;
    if (limit > 0 && static_cast<int>(out.size()) >= limit) break;
    std::string mode = r.hostConfig.value("NetworkMode", "default");
    out.push_back({{"Id", r.id},
                   {"Names", {r.name}},
                   {"Image", r.imageRef},
                   {"ImageID", r.image},
                   {"Command", commandText(r)},
                   {"Created", created / 1000000000},
                   {"Ports", json::array()},
                   {"Labels", labelsJson.is_object() ? labelsJson : json::object()},
                   {"State", s},
                   {"Status", statusText(r)},
                   {"HostConfig", {{"NetworkMode", mode}}},
                   {"NetworkSettings", {{"Networks", json::object()}}},
                   {"Mounts", mountsJson(r)}});
  }
  return out;
}

}  // namespace berth::bridge
