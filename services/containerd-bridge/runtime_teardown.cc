#include "services/containerd-bridge/runtime_teardown.h"

#include "common/errors.h"

namespace berth::bridge {

std::optional<TaskExit> RuntimeTeardown::afterExit(const std::string& id, Deadline deadline) {
  auto exit = tasks_.remove(id, deadline);  // throws conflict while the task runs
  removeContainerAndUnmount(id, deadline);
  std::lock_guard lock(mutex_);
  tornDown_.insert(id);
  return exit;
}

void RuntimeTeardown::runtimeCreated(const std::string& id) {
  std::lock_guard lock(mutex_);
  tornDown_.erase(id);
}

void RuntimeTeardown::ensureGone(const std::string& id, Deadline deadline) {
  {
    std::lock_guard lock(mutex_);
    if (tornDown_.erase(id)) {
      host_.unmountRootfs(paths_.rootfsOf(id));
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
  removeContainerAndUnmount(id, deadline);
}

void RuntimeTeardown::removeContainerAndUnmount(const std::string& id, Deadline deadline) {
  containers_.remove(id, deadline);
  host_.unmountRootfs(paths_.rootfsOf(id));
  volumes_.unmount(id, deadline);
}

}  // namespace berth::bridge
