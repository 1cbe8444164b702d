// The container lifecycle's first half: create, start, restart, and the starts the engine and
// the restart policy ask for.
#include <spdlog/spdlog.h>

#include <set>
#include <thread>

#include "common/errors.h"
#include "common/files.h"
#include "common/go_json_types.h"
#include "common/random.h"
#include "common/time_format.h"
#include "services/containerd-bridge/container_config.h"
#include "services/containerd-bridge/container_lifecycle.h"
#include "services/containerd-bridge/container_links.h"
#include "services/containerd-bridge/log_config.h"
#include "services/containerd-bridge/container_spec.h"
#include "services/containerd-bridge/oci_spec.h"
#include "services/containerd-bridge/request_types.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;


// What create refuses before it reserves a name or asks for a layer, as dockerd words it.
void validateCreate(const json& config, json& hostConfig) {
  auto policy = RestartPolicy::of(hostConfig);
  policy.validate();
  if (hostConfig.value("AutoRemove", false) && !policy.none()) {
    throw Error(ErrorKind::invalid, "conflicting options: cannot specify both --restart and --rm");
  }
  std::string networkMode = hostConfig.value("NetworkMode", "");
  if (networkMode.empty()) hostConfig["NetworkMode"] = networkMode = "default";
  if (networkMode == "container:") throw Error(ErrorKind::invalid, "invalid container format container:<name|id>");
  hostConfig["LogConfig"] = validateLogConfig(hostConfig.value("LogConfig", json()));
  // dockerd's runtimes: runc, its default, and containerd's name for the same shim.
  std::string runtime =
      hostConfig.contains("Runtime") && hostConfig["Runtime"].is_string() ? hostConfig["Runtime"].get<std::string>() : "";
  if (runtime.empty()) hostConfig["Runtime"] = runtime = "runc";
  if (runtime != "runc" && runtime != "io.containerd.runc.v2") {
    throw Error(ErrorKind::invalid, "Unknown runtime specified " + runtime);
  }
  // dockerd's validateHealthCheck: durations of at least 1 ms (a 1 ns interval would probe
  // without pause), retries not negative.
  // (checkCreateBodyTypes has made every number read here one its Go type holds.)
  if (config.contains("Healthcheck") && config["Healthcheck"].is_object()) {
    const json& hc = config["Healthcheck"];
    for (const char* field : {"Interval", "Timeout", "StartPeriod", "StartInterval"}) {
      int64_t nanos = int64Of(hc.value(field, json())).value_or(0);
      if (nanos != 0 && nanos < 1000000) {
        throw Error(ErrorKind::invalid, std::string(field) + " in Healthcheck cannot be less than 1ms");
      }
    }
    if (int64Of(hc.value("Retries", json())).value_or(0) < 0) {
      throw Error(ErrorKind::invalid, "Retries in Healthcheck cannot be negative");
    }
  }
  // dockerd's verifyPlatformContainerSettings, in its order and words (the reference engine's
  // 400s); berth applies none of the three, but a value dockerd refuses is refused here too.
  auto integer = [&](const char* key) { return int64Of(hostConfig.value(key, json())); };
  if (auto swappiness = integer("MemorySwappiness"); swappiness && (*swappiness < -1 || *swappiness > 100)) {
    throw Error(ErrorKind::invalid,
                "Invalid value: " + std::to_string(*swappiness) + ", valid memory swappiness range is 0-100");
  }
  if (auto shm = integer("ShmSize"); shm && *shm < 0) throw Error(ErrorKind::invalid, "SHM size can not be less than 0");
  if (auto adj = integer("OomScoreAdj"); adj && (*adj < -1000 || *adj > 1000)) {
    throw Error(ErrorKind::invalid, "Invalid value " + std::to_string(*adj) + ", range for oom score adj is [-1000, 1000]");
  }
  if (config.contains("StopSignal") && config["StopSignal"].is_string() &&
      !config["StopSignal"].get<std::string>().empty()) {
    parseSignal(config["StopSignal"]);
  }
}

}  // namespace

ContainerLifecycle::Created ContainerLifecycle::create(const std::string& name, const json& body, Deadline deadline,
                                                      const std::string& requestedId) {
  if (!requestedId.empty()) {
    bool hex = requestedId.size() == 64 &&
               requestedId.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!hex) throw Error(ErrorKind::invalid, "a container id is 64 lowercase hexadecimal characters: " + requestedId);
    try {
      // The caller's earlier attempt got this far before its reply was lost.
      if (p_.store.get(requestedId).id == requestedId) return {requestedId, {}};
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::notFound) throw;
    }
  }
  if (!body.is_object()) throw Error(ErrorKind::invalid, "invalid JSON: the request body must be an object");
  // Before anything reads a number: dockerd refuses what its Go types do not hold (a float, a
  // number beyond int64) when it decodes the body.
  checkCreateBodyTypes(body);
  json config = normaliseStringLists(body);
  json hostConfig = config.value("HostConfig", json::object());
  if (!hostConfig.is_object()) hostConfig = json::object();
  config.erase("HostConfig");
  json endpointsConfig = json::object();
  if (config.contains("NetworkingConfig") && config["NetworkingConfig"].is_object() &&
      config["NetworkingConfig"].contains("EndpointsConfig") && config["NetworkingConfig"]["EndpointsConfig"].is_object()) {
    endpointsConfig = config["NetworkingConfig"]["EndpointsConfig"];
  }
  config.erase("NetworkingConfig");
  std::string imageRef = config.value("Image", "");
  if (imageRef.empty()) throw Error(ErrorKind::invalid, "No image was specified");
  validateCreate(config, hostConfig);
  p_.networks.check(hostConfig, endpointsConfig, deadline);

  // One call to the images service: the image resolved, its config, and the container's layer.
  std::string id = requestedId.empty() ? p_.store.newId() : requestedId;
  auto prepared = p_.images.prepare(id, imageRef, capped(deadline, 30s));
  ContainerRecord record;
  try {
    config = mergeImageConfig(config, prepared.image.config.value("config", json::object()));
    if (config.value("Hostname", "").empty()) config["Hostname"] = shortId(id);
    ContainerRecord draft;
    draft.id = id;
    draft.config = config;
    draft.hostConfig = hostConfig;
    // Everything the spec builder checks fails here rather than at start; the user is resolved
    // at start, in the container's own filesystem.
    json spec = baseSpec(draft, p_.paths);
    std::string mode = hostConfig.value("NetworkMode", "default");
    bool links = hostConfig.contains("Links") && hostConfig["Links"].is_array() && !hostConfig["Links"].empty();
    if (links && (mode == "host" || mode.rfind("container:", 0) == 0)) {
      throw Error(ErrorKind::invalid, "conflicting options: " + std::string(mode == "host" ? "host type networking" : "container type network") +
                                          " can't be used with links. This would result in undefined behavior");
    }
    if (links) normaliseLinks(hostConfig["Links"], "/", id, p_.store);  // each linked container exists
    record = p_.store.reserve(name, id);
    if (links) {
      try {
        hostConfig["Links"] = normaliseLinks(hostConfig["Links"], record.name, id, p_.store);
      } catch (...) {
        p_.store.remove(id);
        throw;
      }
    }
    // The volumes made and filled from the image, with the name reserved (dockerd's order); a
    // failure below gives the name back and drops them.
    try {
      record.mountPoints =
          p_.volumes.attach(id, config, hostConfig, prepared.mounts, p_.paths.rootfsOf(id), capped(deadline, 5min));
    } catch (...) {
      p_.store.remove(id);
      throw;
    }
    std::vector<std::string> args = stringsOf(config.value("Entrypoint", json()));
    auto cmd = stringsOf(config.value("Cmd", json()));
    args.insert(args.end(), cmd.begin(), cmd.end());
    record.path = args.front();  // the spec builder refused an empty command
    record.args.assign(args.begin() + 1, args.end());
    record.created = rfc3339Nano(nowUnixNanos());
    record.image = prepared.image.id;
    record.imageRef = imageRef;
    record.config = config;
    record.hostConfig = hostConfig;
    record.endpointsConfig = endpointsConfig;
    record.rootfsMounts = prepared.mounts;
    record.logPath = p_.store.directoryOf(id) + "/" + id + "-json.log";
    try {
      p_.store.add(record);
      writeBaseSpec(p_.store, id, spec);
    } catch (...) {
      p_.volumes.abandoned(id, record.mountPoints, capped(deadline, 10s));
      p_.store.remove(id);
      throw;
    }
    p_.volumes.attached(id);
  } catch (...) {
    try {
      p_.images.release(id, capped(deadline, 10s));
    } catch (const std::exception&) {
    }
    throw;
  }
  p_.events("create", record, {});
  return {record.id, {}};
}

bool ContainerLifecycle::start(const std::string& ref, Deadline deadline) {
  std::string id = p_.store.get(ref).id;
  auto lock = lockOf(id);
  std::lock_guard guard(*lock);
  auto record = p_.store.get(id);
  if (admit(Operation::start, record.state.status, {id, record.name, ref}) == Verdict::alreadyDone) return false;
  bool autoRemove = record.hostConfig.value("AutoRemove", false);
  try {
    startLocked(id, deadline);
  } catch (const Error&) {
    // As dockerd: a --rm container that cannot start is removed; a service or containerd
    // restarting under the removal makes it again.
    if (autoRemove) {
      for (int attempt = 1;; ++attempt) {
        try {
          removeLocked(id, true, true, deadlineIn(std::chrono::minutes(1)));
          break;
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::unavailable || attempt == 10) {
            spdlog::warn("containers: removing {} after its failed start: {}", shortId(id), e.what());
            break;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      }
    }
    throw;
  }
  return true;
}

void ContainerLifecycle::startLocked(const std::string& id, Deadline deadline) {
  auto record = p_.store.get(id);
  ExitHandler::forgetUnrecordedExit(p_.paths, id);  // the last run's
  auto followed = p_.exitHandler.followPoint();  // an exit from here on is an event, or asked for
  uint32_t pid = 0;
  try {
    pid = p_.launcher.launch(record, deadline);
  } catch (const LaunchError& e) {
    p_.store.update(id, [&](ContainerRecord& r) {
      if (auto to = next(r.state.status, LifecycleEvent::startFailed, r.hasBeenStarted)) r.state.status = *to;
      r.state.error = e.what();
      r.state.exitCode = e.exitCode();
      r.state.pid = 0;
    });
    throw;
  }
  record = p_.store.update(id, [&](ContainerRecord& r) {
    auto to = next(r.state.status, LifecycleEvent::taskStarted);
    if (!to) throw Error(ErrorKind::internal, "container " + id + " started from status " + std::string(statusName(r.state.status)));
    r.state.status = *to;
    r.state.pid = static_cast<int>(pid);
    r.state.exitCode = 0;
    r.state.error.clear();
    r.state.oomKilled = false;
    r.state.startedAt = rfc3339Nano(nowUnixNanos());
    // A health check starts over with each run.
    r.state.health = hasHealthCheck(r.config) ? json{{"Status", "starting"}, {"FailingStreak", 0}, {"Log", json::array()}}
                                              : json();
    r.hasBeenStarted = true;
    r.manuallyStopped = false;  // as dockerd: every start clears it, so policies apply again
  });
  p_.events("start", record, {});
  p_.runs.watchRun(record, followed);
}

void ContainerLifecycle::restart(const std::string& ref, int timeoutSeconds, const std::string& signal,
                                 Deadline deadline) {
  std::string id = p_.store.get(ref).id;
  if (!signal.empty()) parseSignal(signal);
  auto lock = lockOf(id);
  std::lock_guard guard(*lock);
  auto record = p_.store.get(id);
  if (admit(Operation::stop, record.state.status, {id, record.name, ref}) == Verdict::proceed) {
    stopLocked(record, timeoutSeconds, signal, deadline);
    record = p_.store.get(id);
  }
  if (admit(Operation::start, record.state.status, {id, record.name, ref}) == Verdict::proceed) startLocked(id, deadline);
  p_.events("restart", p_.store.get(id), {});
}

void ContainerLifecycle::restartByPolicy(const std::string& id) {
  auto lock = lockOf(id);
  std::lock_guard guard(*lock);
  ContainerRecord record;
  try {
    record = p_.store.get(id);
  } catch (const Error&) {
    return;
  }
  if (record.state.status != ContainerStatus::restarting || p_.exitHandler.stopping()) return;
  if (record.manuallyStopped) {
    // A stop came between the exit and this restart: it stays stopped.
    p_.store.update(id, [](ContainerRecord& r) {
      if (auto to = next(r.state.status, LifecycleEvent::restartAbandoned)) r.state.status = *to;
    });
    p_.exits.notify();
    return;
  }
  p_.store.update(id, [](ContainerRecord& r) { r.restartCount += 1; });
  try {
    startLocked(id, deadlineIn(std::chrono::minutes(2)));
    p_.events("restart", p_.store.get(id), {});
  } catch (const Error& e) {
    p_.exits.notify();
    spdlog::warn("containers: restarting {}: {}", shortId(id), e.what());
  }
}

void ContainerLifecycle::boot(const std::string& id) {
  auto lock = lockOf(id);
  std::lock_guard guard(*lock);
  try {
    auto record = p_.store.get(id);
    if (record.state.status != ContainerStatus::exited) return;
    startLocked(id, deadlineIn(std::chrono::minutes(2)));
  } catch (const Error& e) {
    spdlog::warn("containers: starting {} with the engine: {}", shortId(id), e.what());
  }
}

}  // namespace berth::bridge
