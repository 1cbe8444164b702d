#include "services/containerd-bridge/container_networks.h"

#include <spdlog/spdlog.h>

#include "common/errors.h"

namespace berth::bridge {

using namespace std::chrono_literals;

std::string ContainerNetworks::attach(const ContainerRecord& record, Deadline deadline) {
  // Until bridge networks land, only --network none has a namespace of its own: default and
  // bridge give the host's network, as they did before the network service made namespaces.
  if (!network_ || record.hostConfig.value("NetworkMode", "default") != "none") return "";
  std::shared_lock calls(calls_);
  return network_->attach(record.id, capped(deadline, 10s));
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
