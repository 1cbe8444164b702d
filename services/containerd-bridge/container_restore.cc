#include "services/containerd-bridge/container_restore.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>

#include "common/errors.h"
#include "common/files.h"
#include "common/random.h"
#include "common/time_format.h"

namespace berth::bridge {
namespace {

using namespace std::chrono_literals;


bool listedAlive(const std::optional<std::vector<TaskListing>>& listed, const std::string& id) {
  if (!listed) return false;
  return std::any_of(listed->begin(), listed->end(), [&](const TaskListing& t) {
    return t.id == id && (!t.statusKnown || t.status != TaskStatus::stopped);
  });
}

bool listedStopped(const std::optional<std::vector<TaskListing>>& listed, const std::string& id) {
  if (!listed) return false;
  return std::any_of(listed->begin(), listed->end(), [&](const TaskListing& t) {
    return t.id == id && t.statusKnown && t.status == TaskStatus::stopped;
  });
}

// What the listing says of a task whose process runs (or is frozen), as a state call would
// answer it: a restore with a hundred running containers asks containerd nothing more for them.
std::optional<TaskState> listedAliveState(const std::optional<std::vector<TaskListing>>& listed, const std::string& id) {
  if (!listed) return std::nullopt;
  for (const auto& t : *listed) {
    if (t.id != id) continue;
    TaskState s;
    s.answer = TaskState::Answer::present;
    s.status = t.status;
    s.pid = t.pid;
    if (t.statusKnown && t.pid > 0 && s.alive()) return s;
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::vector<TaskListing>> ContainerRestorer::listTasks() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    try {
      return tasks_.list(deadlineIn(10s));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::unavailable) {
        spdlog::warn("containers: restore: listing containerd's tasks: {}", e.what());
        return std::nullopt;
      }
      std::this_thread::sleep_for(100ms);
    }
  }
  spdlog::warn("containers: restore: containerd did not answer; running containers stay running until it does");
  return std::nullopt;
}

void ContainerRestorer::restore() {
  // The marker lives in the exec root (a tmpfs): absent after a reboot or an engine shutdown
  // that stopped the containers, present when only the bridge restarted.
  std::string marker = paths_.runDir + "/.restored";
  bool engineStart = ::access(marker.c_str(), F_OK) != 0;
  writeFileAtomic(marker, "");
  auto began = std::chrono::steady_clock::now();
  auto followed = exitHandler_.followPoint();  // taken before the listing
  // The execs and probes the dead bridge had not deleted: their exec records died with it, so
  // nothing else would delete them and their shim would hold their state and IO for the
  // container's life. One that still runs runs on (as dockerd leaves an exec across its
  // restart) and is deleted when it ends. Before any task's state is asked: a shim stuck
  // opening a dead bridge's exec fifo answers no state until the fifo is held (ExecReaper).
  reaper_.reapOrphans();
  auto listed = listTasks();
  auto listedAt = std::chrono::steady_clock::now();
  // The volumes of the containers recorded running are mounted for them; an exit found below
  // unmounts them, and the volumes service gets the whole view in the background.
  // The records as published, shared rather than copied (a copy each, three times over, was a
  // few milliseconds of a restore with a hundred containers).
  auto records = store_.snapshot();
  std::vector<std::string> running;
  for (const auto& record : records) {
    if (hasLiveTask(record->state.status)) running.push_back(record->id);
  }
  volumes_.restored(running);
  std::set<std::string> known;
  std::vector<std::string> watch;  // running containers, watched below
  std::set<std::string> uncertain;   // among them, those whose state containerd did not give
  for (const auto& shared : records) {
    const ContainerRecord& record = *shared;
    const std::string& id = record.id;
    known.insert(id);
    switch (record.state.status) {
      case ContainerStatus::removing:
        finishRemoval(record);
        break;
      case ContainerStatus::restarting:
        scheduler_.after(RestartBackoff::kInitial, [this, id] { lifecycle_.restartByPolicy(id); });
        break;
      case ContainerStatus::running:
      case ContainerStatus::paused:
        restoreRunning(record, listed, watch, uncertain);
        break;
      case ContainerStatus::created:
      case ContainerStatus::exited:
      case ContainerStatus::dead: {
        // A task under a record that says stopped: a start the bridge did not see finish.
        if (listedAlive(listed, id)) {
          scheduler_.run([this, id] { removeStrayTask(id); });
        } else if (listedStopped(listed, id)) {
          // Its exit recorded, its deferred deletion cut by the last bridge's death: deleted
          // now (it holds a shim), unless a start or removal meanwhile does it first.
          scheduler_.run([this, id] { lifecycle_.deleteLeftTask(id); });
        }
        auto policy = RestartPolicy::of(record.hostConfig);
        if (engineStart && record.state.status == ContainerStatus::exited && record.hasBeenStarted &&
            policy.bootsWithEngine(record.manuallyStopped)) {
          scheduler_.run([this, id] { lifecycle_.boot(id); });
        }
        break;
      }
    }
  }
  // Tasks in berth's namespace that no record stands for.
  if (listed) {
    for (const auto& t : *listed) {
      if (!known.count(t.id)) {
        std::string id = t.id;
        scheduler_.run([this, id] { removeStrayTask(id); });
      }
    }
  }
  // The running containers are watched beside the bridge's readiness rather than before it. An
  // exit since the listing is an event the exit handler keeps until the watch claims it, and a
  // record changed by then (removed, stopped) is left to what changed it.
  scheduler_.run([this, followed, watch = std::move(watch), uncertain = std::move(uncertain)] {
    for (const auto& id : watch) {
      try {
        auto record = store_.find(id);
        // One that exited by now (recorded by the restore, stopped, removed) is not watched.
        if (!record || !hasLiveTask(record->state.status)) continue;
        // One whose state containerd could not give may have exited while no bridge ran: its
        // watch asks again (as one of a run started with no subscription in place).
        runs_.watchRun(*record, uncertain.count(id) ? ExitHandler::FollowPoint{0, followed.at} : followed);
      } catch (const std::exception& e) {
        spdlog::warn("containers: restore: watching {}: {}", shortId(id), e.what());
      }
    }
  });
  auto reconciledAt = std::chrono::steady_clock::now();
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  spdlog::info("containers: restore: {} records, {} tasks listed in {:.1f} ms, reconciled in {:.1f} ms", known.size(),
               listed ? listed->size() : 0, ms(listedAt - began), ms(reconciledAt - listedAt));
  scheduler_.run([this, known, listed] {
    removeStrayRunDirectories(known, listed);
    removeStrayContainerObjects(listed);
  });
  // Every --rm container that does not run is removed, as dockerd removes them when it starts
  // again: those that exited while no bridge ran, those whose removal failed (a service
  // restarting under it), and those created or being started by clients whose calls died with
  // the last bridge.
  for (const auto& shared : store_.snapshot()) {  // again: the loop above changed records
    const ContainerRecord& record = *shared;
    bool due = record.state.status == ContainerStatus::exited || record.state.status == ContainerStatus::dead ||
               record.state.status == ContainerStatus::created;
    if (due && record.hostConfig.value("AutoRemove", false)) {
      std::string id = record.id;
      scheduler_.run([this, id] { lifecycle_.autoRemove(id); });
    }
  }
}

void ContainerRestorer::restoreRunning(const ContainerRecord& record, const std::optional<std::vector<TaskListing>>& listed,
                                       std::vector<std::string>& watch, std::set<std::string>& uncertain) {
  const std::string& id = record.id;
  // A live task is taken from the listing (an exit since then is an event the exit handler
  // keeps for the watch); any other is asked for, since its exit status is only in its state.
  TaskState state = listedAliveState(listed, id).value_or(TaskState{});
  // containerd answers (the listing above said so): a state it cannot give now is the shim's
  // trouble, asked again a few times, then left to the exit handler's checks.
  for (int attempt = 0; attempt < 3 && state.answer == TaskState::Answer::unknown; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(100ms);
    state = tasks_.state(id, "", deadlineIn(10s));
  }
  if (state.alive()) {
    // Alive: watch it again. Its logger is the shim's child and never stopped.
    auto event = state.status == TaskStatus::running ? LifecycleEvent::reattachedRunning : LifecycleEvent::reattachedPaused;
    auto to = next(record.state.status, event);
    if (to == record.state.status && record.state.pid == static_cast<int>(state.pid)) {
      watch.push_back(id);  // as recorded: nothing to write (a durable write per container adds up)
      return;
    }
    auto r = store_.update(id, [&](ContainerRecord& c) {
      if (auto changed = next(c.state.status, event)) c.state.status = *changed;
      c.state.pid = static_cast<int>(state.pid);
    });
    watch.push_back(id);
    return;
  }
  if (state.answer == TaskState::Answer::present && state.status == TaskStatus::stopped) {
    // It exited while the bridge was down: the exit is recorded and the policy applied.
    if (exitHandler_.recordExit(id, state.exit)) return;
  } else if (state.answer == TaskState::Answer::absent && listed && !listedAlive(listed, id)) {
    // containerd has no task: the last bridge deleted it and died before recording the exit it
    // had (kept in the run directory), or a reboot or containerd lost it (no status: 255).
    auto kept = ExitHandler::unrecordedExit(paths_, id);
    if (exitHandler_.recordExit(id, kept.value_or(TaskExit{255, nowUnixNanos()}), true)) return;
  } else {
    spdlog::warn("containers: restore: the state of {} is unknown ({}); it stays running and is watched",
                 shortId(id), state.why.empty() ? "containerd lists a task it cannot describe" : state.why);
  }
  uncertain.insert(id);
  watch.push_back(id);
}

void ContainerRestorer::finishRemoval(const ContainerRecord& record) {
  const std::string& id = record.id;
  try {
    teardown_.ensureGone(id, deadlineIn(30s));
  } catch (const Error& e) {
    spdlog::warn("containers: restore: the interrupted removal of {} left: {}", shortId(id), e.what());
  }
  // dockerd: a removal that was interrupted leaves the container dead.
  store_.update(id, [](ContainerRecord& r) {
    if (auto to = next(r.state.status, LifecycleEvent::removalInterrupted)) r.state.status = *to;
    r.state.pid = 0;
  });
}

void ContainerRestorer::removeStrayTask(const std::string& id) {
  spdlog::warn("containers: restore: killing and deleting a task no running container stands for: {}", shortId(id));
  try {
    tasks_.kill(id, "", SIGKILL, true, deadlineIn(10s));
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::notFound) spdlog::warn("containers: restore: killing {}: {}", shortId(id), e.what());
  }
  for (int attempt = 0; attempt < 100; ++attempt) {
    try {
      teardown_.ensureGone(id, deadlineIn(10s));
      return;
    } catch (const Error& e) {
      if (attempt == 0) spdlog::warn("containers: restore: the task {} stays for now: {}", shortId(id), e.what());
      std::this_thread::sleep_for(100ms);
    }
  }
  spdlog::error("containers: restore: the task {} did not go away", shortId(id));
}

void ContainerRestorer::removeStrayContainerObjects(const std::optional<std::vector<TaskListing>>& listed) {
  if (!listed) return;  // containerd did not answer: its objects are left for the next restore
  std::set<std::string> tasks;
  for (const auto& t : *listed) tasks.insert(t.id);
  try {
    // A listed task's object goes with its task (removeStrayTask); a record found now is a
    // container whose object is its own. A record cannot come back for an object left without
    // one: ids are never reused.
    auto recorded = [&](const std::string& id) {
      if (tasks.count(id)) return true;
      try {
        store_.find(id);
        return true;
      } catch (const Error& e) {
        return e.kind() != ErrorKind::notFound;  // in doubt, kept
      }
    };
    teardown_.removeUnrecorded(recorded, deadlineIn(30s));
  } catch (const Error& e) {
    spdlog::warn("containers: restore: listing containerd's container objects: {}", e.what());
  }
}

void ContainerRestorer::removeStrayRunDirectories(const std::set<std::string>& known,
                                                  const std::optional<std::vector<TaskListing>>& listed) {
  if (!listed) return;  // a task containerd did not list may still use its directory
  std::set<std::string> tasks;
  for (const auto& t : *listed) tasks.insert(t.id);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(paths_.runDir, ec)) {
    std::string id = entry.path().filename();
    if (id.size() != 64 || id.find_first_not_of("0123456789abcdef") != std::string::npos) continue;
    if (known.count(id) || tasks.count(id) || !entry.is_directory(ec)) continue;
    try {
      try {
        store_.get(id);
        continue;  // created since the records were read
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::notFound) throw;
      }
      // Never a removal through a mounted root filesystem: it would delete the layer's files.
      std::string rootfs = paths_.rootfsOf(id);
      if (host_.mounted(rootfs)) host_.unmountRootfs(rootfs);
      if (host_.mounted(rootfs)) continue;
      removeAll(entry.path());
      spdlog::info("containers: restore: removed {}, which no container stands for", entry.path().string());
    } catch (const Error& e) {
      spdlog::warn("containers: restore: {} stays: {}", entry.path().string(), e.what());
    }
  }
}

void ContainerRestorer::shutdown(std::chrono::seconds timeout) {
  ::unlink((paths_.runDir + "/.restored").c_str());
  std::vector<std::thread> stops;
  for (const auto& record : store_.list()) {
    if (!hasLiveTask(record.state.status)) continue;
    std::string id = record.id;
    stops.emplace_back([this, id, timeout] { lifecycle_.stopForShutdown(id, static_cast<int>(timeout.count())); });
  }
  for (auto& t : stops) t.join();
  // Their exits were recorded before containerd deleted their tasks; the engine stops once it has.
  if (!teardown_.settleAll(deadlineIn(30s))) {
    spdlog::warn("containers: containerd had not deleted every stopped task after 30 s; the next start deletes the rest");
  }
}

}  // namespace berth::bridge
