#include "services/containerd-bridge/restart_policy.h"

#include <climits>
#include <set>

#include "common/errors.h"
#include "common/go_json_types.h"

namespace berth::bridge {

RestartPolicy RestartPolicy::of(const nlohmann::json& hostConfig) {
  RestartPolicy p;
  if (!hostConfig.is_object() || !hostConfig.contains("RestartPolicy") || !hostConfig["RestartPolicy"].is_object()) {
    return p;
  }
  const auto& j = hostConfig["RestartPolicy"];
  p.name = j.value("Name", "");
  // An int in dockerd: create and update refuse a count int64 does not hold (request_types.h);
  // beyond int, retrying is without end all the same.
  p.maxRetries = static_cast<int>(int64Within(j.value("MaximumRetryCount", nlohmann::json()), INT_MIN, INT_MAX, 0));
  return p;
}

void RestartPolicy::validate() const {
  static const std::set<std::string> names = {"", "no", "always", "unless-stopped", "on-failure"};
  if (!names.count(name)) {
    throw Error(ErrorKind::invalid, "invalid restart policy: unknown policy '" + name +
                                        "'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'");
  }
  if (maxRetries < 0) throw Error(ErrorKind::invalid, "invalid restart policy: maximum retry count cannot be negative");
  if (maxRetries > 0 && name != "on-failure") {
    throw Error(ErrorKind::invalid, "invalid restart policy: maximum retry count can only be used with 'on-failure'");
  }
}

bool RestartPolicy::shouldRestart(int exitCode, bool manuallyStopped, int restartCount) const {
  if (manuallyStopped || none()) return false;
  if (name == "always" || name == "unless-stopped") return true;
  if (name == "on-failure") return exitCode != 0 && (maxRetries == 0 || restartCount < maxRetries);
  return false;
}

std::chrono::milliseconds RestartBackoff::next(const std::string& id, std::chrono::nanoseconds ran) {
  std::lock_guard lock(mutex_);
  auto& b = last_[id];
  bool ranLong = ran >= std::chrono::seconds(10);
  b = (b.count() == 0 || ranLong) ? kInitial : std::min(b * 2, kMax);
  return b;
}

void RestartBackoff::forget(const std::string& id) {
  std::lock_guard lock(mutex_);
  last_.erase(id);
}

}  // namespace berth::bridge
