#include "services/containerd-bridge/runtime_teardown.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "common/errors.h"
#include "common/random.h"

namespace berth::bridge {

std::optional<TaskExit> RuntimeTeardown::afterExit(const std::string& id, Deadline deadline) {
  auto t0 = std::chrono::steady_clock::now();
  auto exit = tasks_.remove(id, deadline);  // throws conflict while the task runs
  auto t1 = std::chrono::steady_clock::now();
  removeContainerAndUnmount(id, deadline);
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  spdlog::debug("containers: exit {}: task deleted in {:.1f} ms, container object and mounts in {:.1f} ms", shortId(id),
                ms(t1 - t0), ms(std::chrono::steady_clock::now() - t1));
  std::lock_guard lock(mutex_);
  tornDown_.insert(id);
  return exit;
}

bool RuntimeTeardown::beginDeferred(const std::string& id) {
  if (!host_.drainLogger(paths_.runDirOf(id), std::chrono::seconds(2))) return false;
  {
    std::lock_guard lock(mutex_);
    deferred_.insert(id);
  }
  // The process is gone: its mounts are free now, so a removal can hand the layer back at once.
  host_.unmountRootfs(paths_.rootfsOf(id));
  volumes_.unmount(id, deadlineIn(std::chrono::seconds(10)));
  return true;
}

void RuntimeTeardown::finishDeferred(const std::string& id) {
  // However it ends: a deletion left marked under way would hold up the container's next start.
  struct Ended {
    RuntimeTeardown& t;
    const std::string& id;
    bool deleted = false;
    ~Ended() {
      {
        std::lock_guard lock(t.mutex_);
        t.deferred_.erase(id);
        // Remembered for the removal or start to come (which then asks containerd nothing),
        // unless the record went meanwhile.
        if (!t.forgotten_.erase(id) && deleted) t.tornDown_.insert(id);
      }
      t.deferredEnded_.notify_all();
    }
  } ended{*this, id};
  auto t0 = std::chrono::steady_clock::now();
  for (int attempt = 1;; ++attempt) {
    try {
      try {
        tasks_.remove(id, deadlineIn(std::chrono::seconds(30)));
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::notFound) throw;
      }
      containers_.remove(id, deadlineIn(std::chrono::seconds(10)));
      ended.deleted = true;
      break;
    } catch (const Error& e) {
      // containerd restarting: asked again a few times. Whatever stays is deleted by the next
      // start or removal (ensureGone), the sweep for strays, or the next restore.
      if (e.kind() == ErrorKind::unavailable && attempt < 5) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200) * attempt);
        continue;
      }
      spdlog::warn("containers: deleting the task of {} after its exit: {}", shortId(id), e.what());
      break;
    }
  }
  spdlog::debug("containers: exit {}: task and container object deleted after the record, in {:.1f} ms", shortId(id),
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
}

void RuntimeTeardown::forget(const std::string& id) {
  std::lock_guard lock(mutex_);
  tornDown_.erase(id);
  if (deferred_.count(id)) forgotten_.insert(id);
}

bool RuntimeTeardown::deferred(const std::string& id) {
  std::lock_guard lock(mutex_);
  return deferred_.count(id) > 0;
}

void RuntimeTeardown::settle(const std::string& id, Deadline deadline) {
  std::unique_lock lock(mutex_);
  if (!deferredEnded_.wait_until(lock, deadline, [&] { return deferred_.count(id) == 0; })) {
    throw Error(ErrorKind::deadlineExceeded, "the last run of container " + id + " is still being deleted");
  }
}

size_t RuntimeTeardown::removeUnrecorded(const std::function<bool(const std::string&)>& recorded, Deadline deadline) {
  size_t removed = 0;
  for (const auto& id : containers_.list(deadline)) {
    if (recorded(id) || deferred(id)) continue;
    try {
      ensureGone(id, deadline);
      ++removed;
      spdlog::info("containers: deleted containerd's container object {}, which no container stands for", shortId(id));
    } catch (const Error& e) {
      spdlog::warn("containers: containerd's container object {} stays: {}", shortId(id), e.what());
    }
  }
  return removed;
}

bool RuntimeTeardown::settleAll(Deadline deadline) {
  std::unique_lock lock(mutex_);
  return deferredEnded_.wait_until(lock, deadline, [&] { return deferred_.empty(); });
}

void RuntimeTeardown::runtimeCreated(const std::string& id) {
  std::lock_guard lock(mutex_);
  tornDown_.erase(id);
}

void RuntimeTeardown::ensureGone(const std::string& id, Deadline deadline, bool keepMounts) {
  settle(id, deadline);
  {
    std::lock_guard lock(mutex_);
    if (tornDown_.erase(id)) {
      if (!keepMounts) host_.unmountRootfs(paths_.rootfsOf(id));
      return;
    }
  }
  TaskState state = tasks_.state(id, "", deadline);
  switch (state.answer) {
    case TaskState::Answer::unknown:
      throw Error(ErrorKind::unavailable, "the state of container " + id + "'s task is unknown: " + state.why);
    case TaskState::Answer::present:
      if (state.alive()) throw Error(ErrorKind::conflict, "container " + id + " still has a running task");
      tasks_.remove(id, deadline);  // stopped, or created and never started
      break;
    case TaskState::Answer::absent:
      break;
  }
  removeContainerAndUnmount(id, deadline, keepMounts);
}

void RuntimeTeardown::removeContainerAndUnmount(const std::string& id, Deadline deadline, bool keepMounts) {
  containers_.remove(id, deadline);
  if (keepMounts) return;
  host_.unmountRootfs(paths_.rootfsOf(id));
  volumes_.unmount(id, deadline);
}

}  // namespace berth::bridge
