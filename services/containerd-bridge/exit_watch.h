// Waiting for a container's exits and its removal: a stop waits for the exit it caused, a
// health monitor for the end of its run, `docker wait` for its condition. Whoever records an
// exit or a removal calls notify().
#pragma once

#include <chrono>
#include <condition_variable>
#include <array>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_types.h"

namespace berth::bridge {

class ExitWatch {
 public:
  // `removedDir`, when given, keeps removed containers' exit codes as files (in the exec root,
  // a tmpfs) so that a `docker run --rm` whose wait outlives a bridge restart still gets its
  // container's code from the next bridge.
  explicit ExitWatch(const ContainerStore& store, std::string removedDir = "");

  void notify();
  // An exit of `id` is about to be recorded: until exited() or abandoned() is called for it,
  // exitAfter does not count the exit the record may already show, so that whoever waits for it
  // (a stop, which then says "stop") comes after the "die" its recorder says first.
  void recording(const std::string& id);
  void abandoned(const std::string& id);
  // An exit was recorded (and announced): the container's exit count is now `exits`. Kept (the
  // latest per container) so that a wait that wakes after a restart by policy already began
  // answers with that exit's code, not the new run's.
  void exited(const std::string& id, int64_t exits, int exitCode);
  // A removed container's last exit code, for `wait condition=removed`: the last kRemovedKept
  // removals are answered (the oldest is forgotten first). Its last exit is no longer kept.
  void removed(const std::string& id, int exitCode);

  // Blocks until the container's exit count passes `exits` (or it is removed), with no exit of
  // it being recorded, or `timeout` (and up to a second more for an exit being recorded then);
  // true when it did.
  bool exitAfter(const std::string& id, int64_t exits, std::chrono::milliseconds timeout) const;
  // One step of `docker wait`: condition "not-running" (default), "next-exit" or "removed";
  // afterExits < 0 on the first call; waits up to `waitFor`. invalid for another condition.
  WaitResult wait(const std::string& ref, const std::string& condition, int64_t afterExits,
                  std::chrono::milliseconds waitFor) const;

  static constexpr size_t kRemovedKept = 1000;
  // How many containers' last exits are kept (existing containers only).
  size_t lastExitsKept() const;

 private:
  const ContainerStore& store_;
  std::string removedDir_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  // The last removals, oldest first from `removedNext_` on (after a restart, oldest first as far as
  // the files' times tell), in one block made at the start: as
  // map nodes and strings made one per removal among a burst's short-lived allocations, they
  // kept a page each from going back to the system after the burst (docs/performance.md,
  // "What a burst's removed containers left in the bridge").
  // An id is 64 hex digits; a longer one (never made here) is not kept.
  struct RemovedExit {
    std::array<char, 64> id{};
    uint8_t length = 0;  // 0: an empty slot
    int exitCode = 0;
  };
  // Keeps `id`'s code in the oldest slot (and its file goes with the removal it held).
  void remember(const std::string& id, int exitCode);
  std::optional<int> removedExitCode(const std::string& id) const;
  std::vector<RemovedExit> removedExits_;
  size_t removedNext_ = 0;
  std::map<std::string, std::pair<int64_t, int>> lastExits_;  // id -> (exit count, code)
  std::map<std::string, int> recording_;                      // id -> exits being recorded
};

}  // namespace berth::bridge
