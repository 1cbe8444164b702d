#include "services/containerd-bridge/exit_handler.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <thread>

#include "common/errors.h"
#include "common/files.h"
#include "common/random.h"
#include "common/time_format.h"

namespace berth::bridge {
namespace {

using namespace std::chrono_literals;


}  // namespace

void ExitHandler::stop() {
  {
    std::lock_guard lock(pauseMutex_);
    stopping_ = true;
  }
  stopped_.notify_all();
}

void ExitHandler::pause(std::chrono::milliseconds delay) {
  std::unique_lock lock(pauseMutex_);
  stopped_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

void ExitHandler::watch(const std::string& id, int64_t exits) {
  scheduler_.run([this, id, exits] { monitor(id, exits); });
}

bool ExitHandler::stillThisRun(const std::string& id, int64_t startedExits) const {
  try {
    auto r = store_.get(id);
    return r.exits == startedExits && hasLiveTask(r.state.status);
  } catch (const Error&) {
    return false;
  }
}

void ExitHandler::monitor(const std::string& id, int64_t startedExits) {
  auto delay = 100ms;
  while (!stopping_ && stillThisRun(id, startedExits)) {
    try {
      auto exit = tasks_.wait(id, "", deadlineIn(std::chrono::hours(24 * 365)));
      if (recordExit(id, exit)) return;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::unavailable && e.kind() != ErrorKind::deadlineExceeded &&
          e.kind() != ErrorKind::notFound) {
        spdlog::warn("containers: waiting for {}: {}", shortId(id), e.what());
      }
      if (auto confirmed = confirmExit(id)) {
        if (recordExit(id, confirmed->first, confirmed->second)) return;
      }
    }
    // containerd is restarting or did not answer: wait again (the shim keeps the exit for us).
    pause(delay);
    delay = std::min<std::chrono::milliseconds>(delay * 2, 2000ms);
  }
}

std::optional<std::pair<TaskExit, bool>> ExitHandler::confirmExit(const std::string& id) {
  TaskState state = tasks_.state(id, "", deadlineIn(10s));
  if (state.answer == TaskState::Answer::present && state.status == TaskStatus::stopped) {
    return std::make_pair(state.exit, false);
  }
  if (state.answer != TaskState::Answer::absent) return std::nullopt;  // alive or unknown
  // Tasks.Get answers not-found once containerd's container object is gone even while the
  // runtime still runs the task; Tasks.List reads the runtime itself.
  try {
    auto listed = tasks_.list(deadlineIn(10s));
    bool present = std::any_of(listed.begin(), listed.end(), [&](const TaskListing& t) { return t.id == id; });
    if (present) return std::nullopt;
  } catch (const Error& e) {
    spdlog::debug("containers: listing tasks to confirm the exit of {}: {}", shortId(id), e.what());
    return std::nullopt;
  }
  return std::make_pair(TaskExit{255, nowUnixNanos()}, true);
}

std::optional<TaskExit> ExitHandler::unrecordedExit(const ServicePaths& paths, const std::string& id) {
  std::istringstream text(readFileIfExists(paths.runDirOf(id) + "/exit").value_or(""));
  TaskExit exit;
  if (!(text >> exit.status >> exit.exitedAtNanos)) return std::nullopt;
  return exit;
}

void ExitHandler::forgetUnrecordedExit(const ServicePaths& paths, const std::string& id) {
  ::unlink((paths.runDirOf(id) + "/exit").c_str());
}

bool ExitHandler::recordExit(const std::string& id, TaskExit exit, bool taskGone) {
  ContainerRecord record;
  try {
    record = store_.get(id);
  } catch (const Error&) {
    return true;  // removed meanwhile
  }
  if (!hasLiveTask(record.state.status)) return true;  // recorded already
  auto t0 = std::chrono::steady_clock::now();
  // The usual way: the logger confirms the log whole, the exit is recorded, and containerd
  // deletes the task and its container object afterwards (about a third of a short run's time
  // here), off the path of whoever waits for the exit or the removal. A 255 may be a shim that
  // died, whose deletion knows the real status.
  bool deferred = exit.status != 255 && !taskGone && teardown_.beginDeferred(id);
  // Deleting the task takes containerd's copy of the exit: a bridge that dies between the
  // delete and the record leaves this one for the next (the code was 255 without it).
  if (exit.status != 255 && !taskGone && !deferred) {
    try {
      writeFileReplacing(paths_.runDirOf(id) + "/exit",
                         std::to_string(exit.status) + " " + std::to_string(exit.exitedAtNanos), 0600);
    } catch (const std::exception&) {
    }
  }
  try {
    if (deferred) {
      // Torn down after the record, below.
    } else if (taskGone) {
      teardown_.ensureGone(id, deadlineIn(30s));
    } else if (auto deleted = teardown_.afterExit(id, deadlineIn(30s))) {
      if (exit.status == 255 && deleted->status != 0) exit = *deleted;
    }
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::conflict) {
      spdlog::warn("containers: {} reported an exit but its task still runs; waiting again", shortId(id));
      return false;
    }
    // The exit itself is certain; what is left in containerd is deleted (after the same
    // checks) before the next start or at removal.
    spdlog::warn("containers: tearing down {} after its exit: {}", shortId(id), e.what());
  }
  spdlog::debug("containers: exit {}: {} in {:.1f} ms", shortId(id),
                deferred ? "log drained and mounts released" : "runtime torn down",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());

  int64_t startedAt = 0;
  int64_t finished = exit.exitedAtNanos > 0 ? exit.exitedAtNanos : nowUnixNanos();
  bool restart = false, recorded = false;
  // Recorded (or not, when the update throws), the deferred deletion follows in any case: a
  // deletion marked deferred and never carried out would hold up the container's next start.
  struct FinishDeferred {
    ExitHandler* self;
    const std::string& id;
    bool deferred;
    ~FinishDeferred() {
      if (!deferred) return;
      try {
        self->scheduler_.run([t = &self->teardown_, id = id] { t->finishDeferred(id); });
      } catch (...) {
        try {
          self->teardown_.finishDeferred(id);  // no thread to be had: on this one
        } catch (...) {
        }
      }
    }
  } finishDeferred{this, id, deferred};
  record = store_.update(id, [&](ContainerRecord& r) {
    startedAt = parseRfc3339Nanos(r.state.startedAt);
    auto policy = RestartPolicy::of(r.hostConfig);
    restart = !stopping_ && policy.shouldRestart(static_cast<int>(exit.status), r.manuallyStopped, r.restartCount);
    auto to = next(r.state.status, restart ? LifecycleEvent::exitedToRestart : LifecycleEvent::exited);
    if (!to) return;
    recorded = true;
    r.state.status = *to;
    r.state.pid = 0;
    r.state.exitCode = static_cast<int>(exit.status);
    r.state.finishedAt = rfc3339Nano(finished);
    r.exits += 1;
  });
  if (!recorded) return true;
  exits_.exited(id, record.exits, record.state.exitCode);
  events_("die", record, {{"exitCode", std::to_string(record.state.exitCode)}});

  if (restart) {
    auto delay = backoff_.next(id, std::chrono::nanoseconds(startedAt > 0 ? finished - startedAt : 0));
    if (followUp_) scheduler_.after(delay, [this, id] { followUp_->restartByPolicy(id); });
  } else if (record.hostConfig.value("AutoRemove", false) && followUp_) {
    scheduler_.run([this, id] { followUp_->autoRemove(id); });
  }
  return true;
}

}  // namespace berth::bridge
