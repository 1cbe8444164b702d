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

void ExitHandler::stop() { stopping_ = true; }

void ExitHandler::end() {
  stopping_ = true;
  {
    std::lock_guard lock(pauseMutex_);
    ended_ = true;
  }
  stopped_.notify_all();
  {
    std::lock_guard lock(watchMutex_);  // a waiter in follow() sees it
  }
  subscribedChanged_.notify_all();
}

void ExitHandler::pause(std::chrono::milliseconds delay) {
  std::unique_lock lock(pauseMutex_);
  stopped_.wait_for(lock, delay, [this] { return ended_.load(); });
}

void ExitHandler::follow(std::chrono::milliseconds wait) {
  std::unique_lock lock(watchMutex_);
  if (!following_ && !ended_) {
    try {
      scheduler_.run([this] { followEvents(); });
      following_ = true;
    } catch (const std::exception& e) {
      spdlog::warn("containers: following exits: {}", e.what());  // the next watch tries again
    }
  }
  subscribedChanged_.wait_for(lock, wait, [this] { return subscribed_ || ended_; });
}

void ExitHandler::followEvents() {
  auto delay = 100ms;
  while (!ended_) {
    try {
      tasks_.watchExits(
          [this, &delay] {
            {
              std::lock_guard lock(watchMutex_);
              subscribed_ = true;
              ++generation_;
              // What exited while no subscription was in place (containerd restarted) is in the
              // tasks' states: asked for on another thread, while this one reads the events. In
              // the same step, so a check already waiting for this subscription serves it.
              requestCheckLocked();
            }
            subscribedChanged_.notify_all();
            delay = 100ms;
          },
          [this](const ExitEvent& event) {
            try {
              onExit(event);
            } catch (const std::exception& e) {
              spdlog::warn("containers: the exit of {}: {}", shortId(event.containerId), e.what());
            }
          },
          [this] { return !ended_.load(); });
    } catch (const std::exception& e) {
      spdlog::debug("containers: exit events: {}", e.what());
    }
    {
      std::lock_guard lock(watchMutex_);
      subscribed_ = false;
    }
    // The stream ended (containerd is restarting): subscribe again.
    pause(delay);
    delay = std::min<std::chrono::milliseconds>(delay * 2, 2000ms);
  }
}

ExitHandler::FollowPoint ExitHandler::followPoint() const {
  std::lock_guard lock(watchMutex_);
  return {subscribed_ ? generation_ : 0, std::chrono::steady_clock::now()};
}

void ExitHandler::requestCheckLocked() {
  if (checkPending_ || ended_) return;
  checkPending_ = true;
  try {
    scheduler_.run([this] {
      for (;;) {  // once a subscription is in place (an exit after that is an event)
        follow(30s);
        if (ended_) return;
        std::lock_guard lock(watchMutex_);
        if (!subscribed_) continue;
        checkPending_ = false;  // a request from here on asks again
        break;
      }
      try {
        check(false);
      } catch (const std::exception& e) {
        std::lock_guard lock(watchMutex_);
        checkSoon_ = true;
        spdlog::warn("containers: checking the watched containers: {}", e.what());
      }
    });
  } catch (const std::exception& e) {
    checkPending_ = false;
    checkSoon_ = true;  // the periodic check, within a second
    spdlog::warn("containers: checking the watched containers: {}", e.what());
  }
}

void ExitHandler::watch(const std::string& id, int64_t exits, uint32_t pid, const FollowPoint& since) {
  follow();
  std::optional<Unclaimed> early;
  {
    std::lock_guard lock(watchMutex_);
    watched_[id] = Watched{exits, pid};
    auto u = unclaimed_.find({id, pid});
    if (u != unclaimed_.end() && pid != 0 && u->second.at >= since.at) {
      early = u->second;  // it exited before its start returned
      unclaimed_.erase(u);
      watched_.erase(id);
    } else if (since.subscription == 0 || since.subscription != generation_ || !subscribed_ || pid == 0) {
      // The task started while no subscription was in place (or before this one): an exit
      // then came as no event. Its state says.
      requestCheckLocked();
    }
  }
  if (early) settle(id, exits, pid, early->exit, false);
}

void ExitHandler::onExit(const ExitEvent& event) {
  if (event.processId != event.containerId) return;  // an exec's: its waiter has it
  const std::string& id = event.containerId;
  std::unique_lock lock(watchMutex_);
  auto it = watched_.find(id);
  if (it != watched_.end() && it->second.pid != 0 && it->second.pid == event.pid) {
    Watched w = it->second;
    watched_.erase(it);
    lock.unlock();
    settle(id, w.exits, w.pid, event.exit, false);
    return;
  }
  if (event.pid == 0 || (it != watched_.end() && it->second.pid == 0)) {
    // Which run it ends is not known (containerd's cleanup after a shim died names no pid):
    // the task's state says.
    requestCheckLocked();
    return;
  }
  // Not watched yet (its start has not returned), or another run's: kept for the watch of
  // the run it ends, the same pid started before it.
  auto now = std::chrono::steady_clock::now();
  std::erase_if(unclaimed_, [&](const auto& u) { return now - u.second.at > 5min; });
  unclaimed_[{id, event.pid}] = Unclaimed{event.exit, now};
}

bool ExitHandler::claim(const std::string& id, int64_t exits) {
  std::lock_guard lock(watchMutex_);
  auto it = watched_.find(id);
  if (it == watched_.end() || it->second.exits != exits) return false;
  watched_.erase(it);
  return true;
}

void ExitHandler::settle(const std::string& id, int64_t exits, uint32_t pid, TaskExit exit, bool taskGone) {
  auto work = [this, id, exits, pid, exit, taskGone] {
    if (ended_ || !stillThisRun(id, exits)) return;
    try {
      if (recordExit(id, exit, taskGone)) return;
    } catch (const std::exception& e) {
      spdlog::warn("containers: recording the exit of {}: {}; asking again", shortId(id), e.what());
    }
    // Still running after all, or not recorded: watched again, and its state asked for soon
    // (the event is spent).
    std::lock_guard lock(watchMutex_);
    watched_.emplace(id, Watched{exits, pid});
    checkSoon_ = true;
  };
  try {
    scheduler_.run(work);  // a teardown takes a while: the subscriber reads on
  } catch (const std::exception&) {
    work();
  }
}

bool ExitHandler::check(bool periodic) {
  std::map<std::string, Watched> watched;
  {
    std::lock_guard lock(watchMutex_);
    lastCheck_ = std::chrono::steady_clock::now();
    watched = watched_;
  }
  // A run that ended another way (its exit recorded by the restore, the container removed)
  // needs no question.
  for (auto it = watched.begin(); it != watched.end();) {
    if (stillThisRun(it->first, it->second.exits)) {
      ++it;
      continue;
    }
    claim(it->first, it->second.exits);
    it = watched.erase(it);
  }
  bool answered = true, settled = true;
  if (!watched.empty()) {
    try {
      auto listed = tasks_.list(deadlineIn(10s));
      for (const auto& entry : watched) {
        const std::string& id = entry.first;  // a named variable: clang before 16 lets no lambda take a binding
        const Watched& w = entry.second;
        bool alive = std::any_of(listed.begin(), listed.end(), [&](const TaskListing& t) {
          return t.id == id && (!t.statusKnown || t.status != TaskStatus::stopped);
        });
        if (alive) continue;
        auto confirmed = confirmExit(id, listed);
        if (!confirmed) settled = false;  // not alive, not certainly ended: asked again soon
        if (!confirmed || !claim(id, w.exits)) continue;
        if (periodic) spdlog::warn("containers: the exit of {} was found by the periodic check, not by its event", shortId(id));
        settle(id, w.exits, w.pid, confirmed->first, confirmed->second);
      }
    } catch (const Error& e) {
      spdlog::debug("containers: checking the watched containers: {}", e.what());
      answered = false;
    }
  }
  std::lock_guard lock(watchMutex_);
  checkSoon_ = !answered || !settled;
  return answered;
}

void ExitHandler::checkIfDue() {
  {
    std::lock_guard lock(watchMutex_);
    if (!checkSoon_ && std::chrono::steady_clock::now() - lastCheck_ < checkEvery_) return;
  }
  check(true);
}

bool ExitHandler::stillThisRun(const std::string& id, int64_t startedExits) const {
  try {
    auto r = store_.get(id);
    return r.exits == startedExits && hasLiveTask(r.state.status);
  } catch (const Error&) {
    return false;
  }
}

std::optional<std::pair<TaskExit, bool>> ExitHandler::confirmExit(const std::string& id,
                                                                   const std::vector<TaskListing>& listed) {
  TaskState state = tasks_.state(id, "", deadlineIn(10s));
  if (state.answer == TaskState::Answer::present && state.status == TaskStatus::stopped) {
    return std::make_pair(state.exit, false);
  }
  if (state.answer != TaskState::Answer::absent) return std::nullopt;  // alive or unknown
  // Tasks.Get answers not-found once containerd's container object is gone even while the
  // runtime still runs the task; Tasks.List reads the runtime itself.
  if (std::any_of(listed.begin(), listed.end(), [&](const TaskListing& t) { return t.id == id; })) return std::nullopt;
  // Gone: the exit a bridge learnt before it died, or none (255).
  return std::make_pair(unrecordedExit(paths_, id).value_or(TaskExit{255, nowUnixNanos()}), true);
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
  // A stop waiting for this exit goes on only once it is announced, so that its "stop" follows
  // the "die" (dockerd's order).
  exits_.recording(id);
  struct Announce {
    ExitWatch& exits;
    const std::string& id;
    const ContainerRecord* recorded = nullptr;  // set once the record shows the exit
    bool told = false;
    void now() {
      told = true;
      if (recorded) {
        exits.exited(id, recorded->exits, recorded->state.exitCode);
      } else {
        exits.abandoned(id);
      }
    }
    ~Announce() {
      try {
        if (!told) now();
      } catch (...) {  // bad_alloc only; a destructor must not throw
      }
    }
  } announce{exits_, id};
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
  announce.recorded = &record;
  events_("die", record, {{"exitCode", std::to_string(record.state.exitCode)}});
  announce.now();

  if (restart) {
    auto delay = backoff_.next(id, std::chrono::nanoseconds(startedAt > 0 ? finished - startedAt : 0));
    if (followUp_) scheduler_.after(delay, [this, id] { followUp_->restartByPolicy(id); });
  } else if (record.hostConfig.value("AutoRemove", false) && followUp_) {
    scheduler_.run([this, id] { followUp_->autoRemove(id); });
  }
  return true;
}

}  // namespace berth::bridge
