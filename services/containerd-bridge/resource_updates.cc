#include "services/containerd-bridge/resource_updates.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "common/errors.h"
#include "services/containerd-bridge/container_spec.h"
#include "services/containerd-bridge/oci_spec.h"
#include "services/containerd-bridge/request_types.h"
#include "services/containerd-bridge/restart_policy.h"

namespace berth::bridge {

using json = nlohmann::json;

void ResourceUpdates::watchOom() {
  scheduler_.run([this] {
    while (!stopping_) {
      try {
        tasks_.watchOom(
            [this](const std::string& id) {
              try {
                store_.update(id, [](ContainerRecord& r) { r.state.oomKilled = true; });
                events_("oom", store_.get(id), {});
              } catch (const Error& e) {
                if (e.kind() != ErrorKind::notFound) spdlog::warn("containers: oom of {}: {}", id, e.what());
              }
            },
            [this] { return !stopping_.load(); });
      } catch (const std::exception& e) {
        spdlog::debug("containers: oom events: {}", e.what());
      }
      // The stream ends when containerd restarts: subscribe again a second later.
      for (int i = 0; i < 20 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
}

std::vector<std::string> ResourceUpdates::update(const std::string& ref, const json& body, Deadline deadline) {
  if (!body.is_object()) throw Error(ErrorKind::invalid, "invalid JSON in the request body");
  checkUpdateBodyTypes(body);  // as dockerd decodes UpdateConfig: before anything reads a number
  auto record = store_.get(ref);
  auto lock = locks_.of(record.id);
  std::lock_guard guard(*lock);
  record = store_.get(record.id);
  admit(Operation::update, record.state.status, {record.id, record.name, ref});

  // dockerd's updateResources: a zero (or empty) value leaves the setting as it is.
  json hostConfig = record.hostConfig;
  for (const char* key : {"CpuShares", "Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuPeriod", "CpuQuota",
                          "BlkioWeight", "KernelMemory"}) {
    if (body.contains(key) && !body[key].is_null() && !(body[key].is_number() && body[key] == 0)) hostConfig[key] = body[key];
  }
  for (const char* key : {"CpusetCpus", "CpusetMems"}) {
    if (body.contains(key) && body[key].is_string() && !body[key].get<std::string>().empty()) hostConfig[key] = body[key];
  }
  if (body.contains("PidsLimit") && !body["PidsLimit"].is_null()) hostConfig["PidsLimit"] = body["PidsLimit"];
  bool memoryGiven = body.contains("Memory") && body["Memory"].is_number() && body["Memory"] != 0;
  bool swapGiven = body.contains("MemorySwap") && body["MemorySwap"].is_number() && body["MemorySwap"] != 0;
  if (memoryGiven && !swapGiven) {
    int64_t swap = record.hostConfig.value("MemorySwap", int64_t{0});
    if (swap > 0 && body["Memory"].is_number_integer() && body["Memory"].get<int64_t>() > swap) {
      throw Error(ErrorKind::invalid,
                  "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
    }
  }
  if (body.contains("RestartPolicy") && body["RestartPolicy"].is_object() &&
      !body["RestartPolicy"].value("Name", "").empty()) {
    auto policy = RestartPolicy::of(body);
    policy.validate();
    if (record.hostConfig.value("AutoRemove", false) && !policy.none()) {
      throw Error(ErrorKind::invalid, "Restart policy cannot be updated because AutoRemove is enabled for the container");
    }
    hostConfig["RestartPolicy"] = body["RestartPolicy"];
  }

  // Validated whole by building the spec the next start will use (without its root filesystem:
  // the user plays no part).
  ContainerRecord changed = record;
  changed.hostConfig = hostConfig;
  json spec = baseSpec(changed, paths_);
  if (hasLiveTask(record.state.status)) {
    json resources = spec["linux"]["resources"];
    resources.erase("devices");
    try {
      tasks_.update(record.id, resources, deadline);
    } catch (const Error& e) {
      throw Error(ErrorKind::internal, "Cannot update container " + record.id + ": " + e.what());
    }
  }
  store_.update(record.id, [&](ContainerRecord& r) { r.hostConfig = hostConfig; });
  writeBaseSpec(store_, record.id, spec);
  events_("update", store_.get(record.id), {});
  return {};
}

}  // namespace berth::bridge
