// Restart policies as dockerd applies them: HostConfig.RestartPolicy, validated at create and
// update, decided after each exit (restartmanager.ShouldRestart), and the delay before each
// restart (100 ms doubling to a minute, back to 100 ms after a run of 10 s or more).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace berth::bridge {

struct RestartPolicy {
  std::string name;  // "", "no", "always", "unless-stopped", "on-failure"
  int maxRetries = 0;

  static RestartPolicy of(const nlohmann::json& hostConfig);
  // invalid, with dockerd's message, for an unknown name or a bad retry count.
  void validate() const;
  bool none() const { return name.empty() || name == "no"; }
  // After an exit: whether the container starts again.
  bool shouldRestart(int exitCode, bool manuallyStopped, int restartCount) const;
  // On the engine's start: whether a container that was running when the engine stopped boots.
  bool bootsWithEngine(bool manuallyStopped) const {
    return name == "always" || (name == "unless-stopped" && !manuallyStopped);
  }
};

// The delay before each restart of each container.
class RestartBackoff {
 public:
  static constexpr std::chrono::milliseconds kInitial{100};
  static constexpr std::chrono::milliseconds kMax{60000};

  // The next delay for `id`: the initial one after its first exit or a run of 10 s or more,
  // else double the last.
  std::chrono::milliseconds next(const std::string& id, std::chrono::nanoseconds ran);
  void forget(const std::string& id);

 private:
  std::mutex mutex_;
  std::map<std::string, std::chrono::milliseconds> last_;
};

}  // namespace berth::bridge
