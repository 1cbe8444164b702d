#include "services/containerd-bridge/container_networks.h"

#include <spdlog/spdlog.h>

#include "common/errors.h"

namespace berth::bridge {

using namespace std::chrono_literals;

namespace {

constexpr std::string_view kContainerMode = "container:";

bool builtinMode(const std::string& mode) {
  return mode == "default" || mode == "bridge" || mode == "host" || mode == "none";
}

}  // namespace

void ContainerNetworks::check(const nlohmann::json& hostConfig, const nlohmann::json& endpointsConfig, Deadline deadline) {
  std::string mode = hostConfig.value("NetworkMode", "default");
  if (mode.rfind(kContainerMode, 0) == 0) {
    store_.get(mode.substr(kContainerMode.size()));  // notFound "No such container: X"
    return;
  }
  if (!network_) return;
  if (!builtinMode(mode)) network_->checkNetwork(mode, capped(deadline, 10s));
  for (auto it = endpointsConfig.begin(); it != endpointsConfig.end(); ++it) {
    if (it.key() != mode && !builtinMode(it.key())) network_->checkNetwork(it.key(), capped(deadline, 10s));
  }
}

void ContainerNetworks::plan(const std::string& ref, const std::string& network, const nlohmann::json& endpointConfig,
                             bool connect, Deadline deadline) {
  auto record = store_.get(ref);
  std::string mode = record.hostConfig.value("NetworkMode", "default");
  if (mode == "host" || mode == "none" || mode.rfind(kContainerMode, 0) == 0) {
    throw Error(ErrorKind::invalid, "container sharing network namespace with another container or host cannot be "
                                    "connected to any other network");
  }
  if (connect && network_ && !builtinMode(network)) network_->checkNetwork(network, capped(deadline, 10s));
  if (record.networkSettings.is_object() && network_) {
    // Attached before (it ran): the network service changes its namespace now, running or not.
    nlohmann::json settings;
    {
      std::shared_lock calls(calls_);
      settings = connect ? network_->connect(record.id, network, endpointConfig, capped(deadline, 30s))
                         : network_->disconnect(record.id, network, capped(deadline, 30s));
    }
    store_.update(record.id, [&](ContainerRecord& r) {
      if (!settings.is_object()) return;
      settings["SandboxKey"] = r.networkSettings.value("SandboxKey", "");
      settings["SandboxID"] = r.id;
      r.networkSettings = settings;
      std::string key = network == "default" ? "bridge" : network;
      if (connect) r.endpointsConfig[key] = endpointConfig.is_object() ? endpointConfig : nlohmann::json::object();
      else r.endpointsConfig.erase(key);
    });
    return;
  }
  store_.update(record.id, [&](ContainerRecord& r) {
    std::string key = network == "default" ? "bridge" : network;
    bool planned = r.endpointsConfig.contains(key) || key == (mode == "default" ? "bridge" : mode);
    if (connect) {
      r.endpointsConfig[key] = endpointConfig.is_object() ? endpointConfig : nlohmann::json::object();
    } else if (!planned) {
      throw Error(ErrorKind::forbidden, "container " + r.id + " is not connected to network " + network);
    } else {
      r.endpointsConfig.erase(key);
    }
  });
}

std::string ContainerNetworks::attach(const ContainerRecord& record, Deadline deadline) {
  std::string mode = record.hostConfig.value("NetworkMode", "default");
  if (mode == "host") return "";
  if (mode.rfind(kContainerMode, 0) == 0) {
    // dockerd's rule: the other container must be running; its process's namespace is joined.
    auto target = store_.get(mode.substr(kContainerMode.size()));
    if (target.state.status != ContainerStatus::running || target.state.pid <= 0) {
      throw Error(ErrorKind::conflict, "cannot join network of a non running container: " + target.id);
    }
    return "/proc/" + std::to_string(target.state.pid) + "/ns/net";
  }
  if (!network_) return "";
  nlohmann::json endpoints = record.endpointsConfig;
  std::string macAddress = record.config.value("MacAddress", "");
  if (!macAddress.empty()) endpoints[mode == "default" ? "bridge" : mode]["MacAddress"] = macAddress;
  nlohmann::json request = {{"Name", record.name},
                            {"Hostname", record.config.value("Hostname", "")},
                            {"NetworkMode", mode},
                            {"EndpointsConfig", endpoints},
                            {"PortBindings", record.hostConfig.value("PortBindings", nlohmann::json::object())},
                            {"PublishAllPorts", record.hostConfig.value("PublishAllPorts", false)},
                            {"ExposedPorts", record.config.value("ExposedPorts", nlohmann::json::object())}};
  NetworkService::Attached attached;
  {
    std::shared_lock calls(calls_);
    attached = network_->attach(record.id, request, capped(deadline, 30s));
  }
  if (attached.settings.is_object()) {
    attached.settings["SandboxKey"] = attached.netnsPath;
    attached.settings["SandboxID"] = record.id;
  }
  if (attached.settings != record.networkSettings) {
    store_.update(record.id, [&](ContainerRecord& r) { r.networkSettings = attached.settings; });
  }
  return attached.netnsPath;
}

void ContainerNetworks::detach(const std::string& id, Deadline deadline) noexcept {
  if (!network_) return;
  try {
    std::shared_lock calls(calls_);
    network_->detach(id, capped(deadline, 10s));
  } catch (const Error& e) {
    spdlog::warn("containers: removing the network namespace of {}: {}; reconciling", id, e.what());
    reconcileSoon();
  }
}

void ContainerNetworks::reconcileSoon() {
  if (!network_ || reconcileScheduled_.exchange(true)) return;
  scheduler_.run([this] { reconcileAttempt(); });
}

void ContainerNetworks::reconcileAttempt() {
  reconcileScheduled_ = false;
  try {
    std::unique_lock calls(calls_);
    std::vector<std::string> ids;
    for (const auto& record : store_.snapshot()) ids.push_back(record->id);
    network_->reconcile(ids, deadlineIn(10s));
    return;
  } catch (const Error& e) {
    spdlog::info("containers: the network service did not take the list of containers ({}); again in 1 s", e.what());
  }
  if (reconcileScheduled_.exchange(true)) return;
  scheduler_.after(1s, [this] { reconcileAttempt(); });
}

}  // namespace berth::bridge
