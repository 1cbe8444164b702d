#include "services/api/system_routes.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "common/files.h"
#include "common/host_info.h"
#include "common/time_format.h"
#include "common/version.h"
#include "services/api/event_filter.h"
#include "services/api/query_params.h"

namespace berth::api {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr auto kServiceDeadline = 1000ms;


std::string goArch(const std::string& machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  return machine;
}

std::string readTrimmed(const std::string& path) {
  auto s = readFileIfExists(path).value_or("");
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

json eventJson(const ipc::EngineEvent& e) {
  json attrs = json::object();
  for (const auto& [k, v] : e.attributes) attrs[k] = v;
  json j;
  // dockerd still fills the pre-1.22 fields for container and image events.
  if (e.type == "container" || e.type == "image") {
    j["status"] = e.action;
    j["id"] = e.actorId;
    if (e.type == "container" && attrs.contains("image")) j["from"] = attrs["image"];
  }
  j["Type"] = e.type;
  j["Action"] = e.action;
  j["Actor"] = {{"ID", e.actorId}, {"Attributes", attrs}};
  j["scope"] = e.scope;
  j["time"] = e.timeNano / 1000000000;
  j["timeNano"] = e.timeNano;
  return j;
}

std::string eventKey(const ipc::EngineEvent& e) {
  return std::to_string(e.timeNano) + "\x1f" + e.type + "\x1f" + e.action + "\x1f" + e.actorId;
}

}  // namespace

SystemRoutes::SystemRoutes(const Config& config, Backends& backends, EventHub& events)
    : config_(config), backends_(backends), events_(events) {
  engineId_ = readTrimmed(config_.engineIdFile());
}

void SystemRoutes::registerOn(Router& router) {
  auto bind = [this](void (SystemRoutes::*fn)(http::Request&, http::ResponseWriter&)) {
    return [this, fn](http::Request& req, http::ResponseWriter& out) { (this->*fn)(req, out); };
  };
  router.add("GET", "/_ping", bind(&SystemRoutes::ping));
  router.add("HEAD", "/_ping", bind(&SystemRoutes::ping));
  router.add("GET", "/version", bind(&SystemRoutes::version));
  router.add("GET", "/info", bind(&SystemRoutes::info));
  router.add("GET", "/events", bind(&SystemRoutes::events));
}

void SystemRoutes::ping(http::Request&, http::ResponseWriter& out) {
  out.send(200, "text/plain; charset=utf-8", "OK",
           {{"Cache-Control", "no-cache, no-store, must-revalidate"}, {"Pragma", "no-cache"}, {"Swarm", "inactive"}});
}

void SystemRoutes::version(http::Request&, http::ResponseWriter& out) {
  HostInfo host = readHostInfo();
  // dockerd repeats the engine's figures at the top level for old clients.
  json details = {{"ApiVersion", kApiVersion},       {"MinAPIVersion", kMinApiVersion},
                  {"GitCommit", gitCommit()},        {"GoVersion", ""},
                  {"Os", "linux"},                   {"Arch", goArch(host.architecture)},
                  {"KernelVersion", host.kernelVersion}, {"BuildTime", __DATE__ " " __TIME__}};
  json engine = {{"Name", "Engine"}, {"Version", BERTH_VERSION}, {"Details", details}};
  engine["Details"]["Experimental"] = "false";
  json components = json::array({engine});
  try {
    auto r = backends_.bridge.summary(ipc::deadlineIn(kServiceDeadline));
    if (r.containerdReachable) {
      components.push_back(
          {{"Name", "containerd"}, {"Version", r.containerdVersion}, {"Details", {{"GitCommit", r.containerdRevision}}}});
    }
    if (!r.runcVersion.empty()) {
      components.push_back({{"Name", "runc"}, {"Version", r.runcVersion}, {"Details", {{"GitCommit", r.runcCommit}}}});
    }
  } catch (const Error& e) {
    spdlog::warn("version: the containerd-bridge did not answer: {}", e.what());
  }
  json body = details;
  body["Platform"] = {{"Name", "berth " BERTH_VERSION}};
  body["Components"] = components;
  body["Version"] = BERTH_VERSION;
  out.json(200, body);
}

void SystemRoutes::info(http::Request&, http::ResponseWriter& out) {
  HostInfo host = readHostInfo();
  json warnings = json::array();
  auto unavailable = [&](const std::string& service, const Error& e) {
    warnings.push_back("WARNING: the " + service + " service did not answer (" + e.what() + "); its figures are missing");
  };

  json counts = json{{"Containers", 0}, {"ContainersRunning", 0}, {"ContainersPaused", 0}, {"ContainersStopped", 0}};
  json containerdCommit = {{"ID", ""}, {"Expected", ""}}, runcCommit = {{"ID", ""}, {"Expected", ""}};
  try {
    auto r = backends_.bridge.summary(ipc::deadlineIn(kServiceDeadline));
    counts = json{{"Containers", r.containers},
                  {"ContainersRunning", r.running},
                  {"ContainersPaused", r.paused},
                  {"ContainersStopped", r.stopped}};
    containerdCommit = {{"ID", r.containerdRevision}, {"Expected", r.containerdRevision}};
    runcCommit = {{"ID", r.runcCommit}, {"Expected", r.runcCommit}};
    if (!r.containerdReachable) warnings.push_back("WARNING: containerd at " + r.containerdAddress + " is not answering");
  } catch (const Error& e) {
    unavailable("containerd-bridge", e);
  }
  unsigned images = 0;
  std::string backingFs = "unknown";
  try {
    auto summary = backends_.images.summary(ipc::deadlineIn(kServiceDeadline));
    images = summary.images;
    backingFs = summary.backingFilesystem;
  } catch (const Error& e) {
    unavailable("images", e);
  }

  int nfd = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++nfd;
  }
  bool swapLimit = host.cgroupVersion == 2 ? std::filesystem::exists("/sys/fs/cgroup/memory.swap.max", ec)
                                            : std::filesystem::exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", ec);
  if (!swapLimit) warnings.push_back("WARNING: No swap limit support");

  json info = counts;
  info.update({
      {"ID", engineId_},
      {"Images", images},
      {"Driver", "overlay2"},
      {"DriverStatus", json::array({json::array({"Backing Filesystem", backingFs}), json::array({"Supports d_type", "true"}),
                                    json::array({"Using metacopy", "false"}), json::array({"Native Overlay Diff", "true"}),
                                    json::array({"userxattr", "false"})})},
      {"Plugins", {{"Volume", {"local"}}, {"Network", {"bridge", "host", "none"}}, {"Authorization", nullptr},
                   {"Log", {"json-file"}}}},
      {"MemoryLimit", true},
      {"SwapLimit", swapLimit},
      {"CpuCfsPeriod", true},
      {"CpuCfsQuota", true},
      {"CPUShares", true},
      {"CPUSet", true},
      {"PidsLimit", true},
      {"OomKillDisable", host.cgroupVersion == 1},
      {"IPv4Forwarding", readTrimmed("/proc/sys/net/ipv4/ip_forward") == "1"},
      {"BridgeNfIptables", readTrimmed("/proc/sys/net/bridge/bridge-nf-call-iptables") == "1"},
      {"BridgeNfIp6tables", readTrimmed("/proc/sys/net/bridge/bridge-nf-call-ip6tables") == "1"},
      {"Debug", config_.logLevel == "debug"},
      {"NFd", nfd},
      {"NGoroutines", 0},
      {"SystemTime", rfc3339Nano(nowUnixNanos())},
      {"LoggingDriver", "json-file"},
      {"CgroupDriver", "cgroupfs"},
      {"CgroupVersion", std::to_string(host.cgroupVersion)},
      {"NEventsListener", events_.listeners()},
      {"KernelVersion", host.kernelVersion},
      {"OperatingSystem", host.operatingSystem},
      {"OSVersion", host.osVersion},
      {"OSType", "linux"},
      {"Architecture", host.architecture},
      {"IndexServerAddress", "https://index.docker.io/v1/"},
      {"RegistryConfig", {{"AllowNondistributableArtifactsCIDRs", json::array()},
                          {"AllowNondistributableArtifactsHostnames", json::array()},
                          {"InsecureRegistryCIDRs", {"127.0.0.0/8"}},
                          {"IndexConfigs", json::object()},
                          {"Mirrors", json::array()}}},
      {"NCPU", host.cpus},
      {"MemTotal", host.memTotal},
      {"GenericResources", nullptr},
      {"DockerRootDir", config_.dataRoot},
      {"HttpProxy", ""},
      {"HttpsProxy", ""},
      {"NoProxy", ""},
      {"Name", host.hostname},
      {"Labels", json::array()},
      {"ExperimentalBuild", false},
      {"ServerVersion", BERTH_VERSION},
      {"Runtimes", {{"runc", {{"path", "runc"}}}}},
      {"DefaultRuntime", "runc"},
      {"Swarm", {{"NodeID", ""}, {"NodeAddr", ""}, {"LocalNodeState", "inactive"}, {"ControlAvailable", false},
                 {"Error", ""}, {"RemoteManagers", nullptr}}},
      {"LiveRestoreEnabled", config_.liveRestore},
      {"Isolation", ""},
      {"InitBinary", ""},
      {"ContainerdCommit", containerdCommit},
      {"RuncCommit", runcCommit},
      {"InitCommit", {{"ID", ""}, {"Expected", ""}}},
      {"SecurityOptions", json::array()},
      {"Warnings", warnings},
  });
  out.json(200, info);
}

void SystemRoutes::events(http::Request& req, http::ResponseWriter& out) {
  int64_t since = 0, until = 0;
  bool hasSince = false, hasUntil = false;
  if (auto v = req.queryValue("since"); v && !v->empty()) {
    since = parseTimestamp("since", *v);
    hasSince = true;
  }
  if (auto v = req.queryValue("until"); v && !v->empty()) {
    until = parseTimestamp("until", *v);
    hasUntil = true;
  }
  EventFilter filter = EventFilter::parse(filtersParam(req));

  // Subscribe before reading history so nothing falls between the two.
  auto sub = events_.subscribe();
  struct Unsubscribe {
    EventHub& hub;
    std::shared_ptr<EventHub::Subscription> sub;
    ~Unsubscribe() { hub.unsubscribe(sub); }
  } guard{events_, sub};

  std::set<std::string> sent;
  out.startStream(200, "application/json");
  auto emit = [&](const ipc::EngineEvent& e) {
    if (!filter.matches(e)) return true;
    return out.writeChunk(eventJson(e).dump() + "\n");
  };
  if (hasSince || hasUntil) {
    for (const auto& e : events_.history(since, hasUntil ? until : 0)) {
      sent.insert(eventKey(e));
      if (!emit(e)) return;
    }
  }
  auto untilReached = [&] { return hasUntil && nowUnixNanos() >= until; };
  while (!untilReached()) {
    std::vector<ipc::EngineEvent> batch;
    auto wait = 1000ms;
    if (hasUntil) {
      auto left = std::chrono::milliseconds((until - nowUnixNanos()) / 1000000 + 1);
      wait = std::min(wait, left);
    }
    sub->wait(wait, batch);
    for (const auto& e : batch) {
      if (hasUntil && e.timeNano > until) continue;
      if (hasSince && e.timeNano < since) continue;
      if (sent.count(eventKey(e))) continue;
      if (!emit(e)) return;
    }
    if (out.clientGone()) return;
  }
  if (uint64_t dropped = sub->dropped()) {
    spdlog::warn("events: a client that did not keep up missed {} events", dropped);
  }
  out.endStream();
}

}  // namespace berth::api
