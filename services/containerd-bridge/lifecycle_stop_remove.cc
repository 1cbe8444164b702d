// The container lifecycle's second half: stop, kill, pause, unpause, remove, rename, and the
// removals and stops exit handling and the engine ask for.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <climits>
#include <thread>

#include "common/errors.h"
#include "common/files.h"
#include "common/go_json_types.h"
#include "common/random.h"
#include "services/containerd-bridge/container_config.h"
#include "services/containerd-bridge/container_lifecycle.h"
#include "services/containerd-bridge/stray_shims.h"

namespace berth::bridge {
namespace {

using namespace std::chrono_literals;


int stopTimeoutOf(const ContainerRecord& r) {
  // An int in dockerd (64 bits), an int here: beyond it, a wait without end all the same.
  return static_cast<int>(int64Within(r.config.value("StopTimeout", nlohmann::json()), INT_MIN, INT_MAX, 10));
}

std::chrono::milliseconds atMost(std::chrono::milliseconds budget, Deadline deadline) {
  return std::min(budget, remaining(deadline));
}

// The container's directory in the exec root (fifos, the logger's done mark, the rootfs mount
// point). Its logger may still write its done mark into it when the task was deleted before its
// output ended (a start a bridge kill cut): the removal is tried again while that settles. What
// cannot be removed is left to the next restore's sweep rather than failing a removal whose
// every other part is done, which would leave the record removing and `docker run --rm`
// waiting for it forever.
void removeRunDirectory(const std::string& path) {
  for (int attempt = 1;; ++attempt) {
    try {
      removeAll(path);
      return;
    } catch (const Error& e) {
      if (attempt == 20) {
        spdlog::warn("containers: {} stays until the next restore: {}", path, e.what());
        return;
      }
    }
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace

void ContainerLifecycle::signalUnlessExited(const ContainerRecord& record, int signal, bool all, Deadline deadline) {
  try {
    p_.tasks.kill(record.id, "", signal, all, capped(deadline, 10s));
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::notFound) return;
    if (p_.exits.exitAfter(record.id, record.exits, atMost(2s, deadline))) return;
    throw;
  }
  p_.events("kill", record, {{"signal", std::to_string(signal)}});
}

bool ContainerLifecycle::stop(const std::string& ref, int timeoutSeconds, const std::string& signal, Deadline deadline) {
  std::string id = p_.store.get(ref).id;
  if (!signal.empty()) parseSignal(signal);
  auto lock = lockOf(id);
  std::lock_guard guard(*lock);
  auto record = p_.store.get(id);
  if (admit(Operation::stop, record.state.status, {id, record.name, ref}) == Verdict::alreadyDone) return false;
  return stopLocked(record, timeoutSeconds, signal, deadline);
}

bool ContainerLifecycle::stopLocked(const ContainerRecord& record, int timeoutSeconds, const std::string& signalText,
                                    Deadline deadline) {
  const std::string& id = record.id;
  if (record.state.status == ContainerStatus::restarting) {
    // No task: the pending restart is called off.
    p_.store.update(id, [](ContainerRecord& r) {
      r.manuallyStopped = true;
      if (auto to = next(r.state.status, LifecycleEvent::restartAbandoned)) r.state.status = *to;
    });
    p_.exits.notify();
    return true;
  }
  if (!hasLiveTask(record.state.status)) return false;
  p_.store.update(id, [](ContainerRecord& r) { r.manuallyStopped = true; });
  int timeout = timeoutSeconds < 0 ? stopTimeoutOf(record) : timeoutSeconds;
  std::string sigText = !signalText.empty() ? signalText : record.config.value("StopSignal", "");
  int sig = sigText.empty() ? SIGTERM : parseSignal(sigText);
  if (record.state.status == ContainerStatus::paused) {
    try {
      p_.tasks.resume(id, capped(deadline, 10s));
    } catch (const Error&) {
    }
  }
  signalUnlessExited(record, sig, false, deadline);
  // An exit of its own just before this stop may have been taken for a restart: stopped wins.
  auto settle = [&] {
    return p_.store.update(id, [](ContainerRecord& r) {
      if (auto to = next(r.state.status, LifecycleEvent::restartAbandoned)) r.state.status = *to;
    });
  };
  if (timeout >= 0 && p_.exits.exitAfter(id, record.exits, atMost(std::chrono::seconds(timeout), deadline))) {
    p_.events("stop", settle(), {});
    return true;
  }
  signalUnlessExited(record, SIGKILL, true, deadline);
  if (!p_.exits.exitAfter(id, record.exits, atMost(30s, deadline))) {
    throw Error(ErrorKind::internal, "container " + id + " did not exit after SIGKILL");
  }
  p_.events("stop", settle(), {});
  return true;
}

void ContainerLifecycle::stopForShutdown(const std::string& id, int timeoutSeconds) {
  auto lock = lockOf(id);
  std::lock_guard guard(*lock);
  try {
    auto record = p_.store.get(id);
    int t = std::min(stopTimeoutOf(record), timeoutSeconds);
    stopLocked(record, t, "", deadlineIn(std::chrono::seconds(t) + 60s));
    // A shutdown stop is not a user's stop: "always" restarts the container on the next start.
    p_.store.update(id, [](ContainerRecord& r) { r.manuallyStopped = false; });
  } catch (const std::exception& e) {
    spdlog::warn("containers: stopping {} at shutdown: {}", shortId(id), e.what());
  }
}

// No operation lock: `docker kill` is how a user hurries a stop that holds it.
void ContainerLifecycle::kill(const std::string& ref, const std::string& signalText, Deadline deadline) {
  auto record = p_.store.get(ref);
  int sig = signalText.empty() ? SIGKILL : parseSignal(signalText);
  admit(Operation::kill, record.state.status, {record.id, record.name, ref});
  if (record.state.status == ContainerStatus::restarting) {
    // As dockerd: no task to signal; the pending restart is called off.
    p_.store.update(record.id, [](ContainerRecord& r) {
      r.manuallyStopped = true;
      if (auto to = next(r.state.status, LifecycleEvent::restartAbandoned)) r.state.status = *to;
    });
    p_.exits.notify();
    p_.events("kill", record, {{"signal", std::to_string(sig)}});
    return;
  }
  // As dockerd: a KILL is a stop the restart policy honours.
  if (sig == SIGKILL) p_.store.update(record.id, [](ContainerRecord& r) { r.manuallyStopped = true; });
  signalUnlessExited(record, sig, false, deadline);
  // As dockerd: a KILL returns once the exit is recorded, so the next call sees the container
  // exited with 137, not still running. Other signals return at once.
  if (sig == SIGKILL) p_.exits.exitAfter(record.id, record.exits, atMost(10s, deadline));
}

void ContainerLifecycle::pause(const std::string& ref, Deadline deadline) {
  freezeOrThaw(ref, true, deadline);
}

void ContainerLifecycle::unpause(const std::string& ref, Deadline deadline) {
  freezeOrThaw(ref, false, deadline);
}

void ContainerLifecycle::freezeOrThaw(const std::string& ref, bool freeze, Deadline deadline) {
  std::string id = p_.store.get(ref).id;
  auto lock = lockOf(id);
  std::lock_guard guard(*lock);
  auto record = p_.store.get(id);
  Subject subject{id, record.name, ref};
  Operation op = freeze ? Operation::pause : Operation::unpause;
  admit(op, record.state.status, subject);
  if (freeze) p_.tasks.pause(id, capped(deadline, 10s));
  else p_.tasks.resume(id, capped(deadline, 10s));
  bool applied = false;
  record = p_.store.update(id, [&](ContainerRecord& r) {
    if (auto to = next(r.state.status, freeze ? LifecycleEvent::paused : LifecycleEvent::unpaused)) {
      r.state.status = *to;
      applied = true;
    }
  });
  // It exited meanwhile: the exit was recorded, and stands.
  if (!applied) admit(op, record.state.status, subject);
  p_.events(freeze ? "pause" : "unpause", record, {});
}

void ContainerLifecycle::remove(const std::string& ref, bool force, bool removeVolumes, Deadline deadline) {
  std::string id = p_.store.get(ref).id;
  auto lock = lockOf(id);
  std::lock_guard guard(*lock);
  auto record = p_.store.get(id);
  admit(force ? Operation::removeForce : Operation::remove, record.state.status, {id, record.name, ref});
  if (hasLiveTask(record.state.status)) {
    auto r = p_.store.update(id, [](ContainerRecord& c) { c.manuallyStopped = true; });
    if (r.state.status == ContainerStatus::paused) {
      try {
        p_.tasks.resume(id, capped(deadline, 10s));
      } catch (const Error&) {
      }
    }
    signalUnlessExited(r, SIGKILL, true, deadline);
    if (!p_.exits.exitAfter(id, r.exits, atMost(30s, deadline))) {
      throw Error(ErrorKind::internal, "container did not exit after SIGKILL");
    }
  }
  removeLocked(id, force, removeVolumes, deadline);
}

void ContainerLifecycle::ensureRuntimeGone(const std::string& id, bool force, Deadline deadline) {
  // The exit's deferred deletion is under way: the mounts are released already, and what
  // containerd still holds goes with it, off the removal's path (docker run --rm waits for the
  // removal). A bridge that dies first leaves a stopped task no record stands for, which the
  // next restore deletes.
  if (p_.teardown.deferred(id)) return;
  try {
    p_.teardown.ensureGone(id, capped(deadline, 30s));
    return;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::conflict || !force) throw;
  }
  // A task runs although the record says the container does not (a start the bridge did not
  // see finish): rm -f kills it, and waits for containerd to report it stopped.
  p_.tasks.kill(id, "", SIGKILL, true, capped(deadline, 10s));
  auto until = capped(deadline, 10s);
  while (!expired(until)) {
    auto state = p_.tasks.state(id, "", until);
    if (state.answer != TaskState::Answer::unknown && !state.alive()) break;
    std::this_thread::sleep_for(50ms);
  }
  p_.teardown.ensureGone(id, capped(deadline, 30s));
}

void ContainerLifecycle::removeLocked(const std::string& id, bool force, bool removeVolumes, Deadline deadline) {
  auto t0 = std::chrono::steady_clock::now();
  auto record = p_.store.update(id, [&](ContainerRecord& r) {
    r.manuallyStopped = true;  // a restart scheduled before this removal finds it called off
    auto to = next(r.state.status, LifecycleEvent::removalBegun);
    if (!to) throw Error(ErrorKind::conflict, "container " + id + " is " + std::string(statusName(r.state.status)));
    r.state.status = *to;
  });
  auto t1 = std::chrono::steady_clock::now();
  try {
    ensureRuntimeGone(id, force, deadline);
    // A start a kill cut inside containerd's shim start leaves the shim's socket with nothing
    // behind it, which no shutdown will take (stray_shims.h).
    if (!p_.paths.containerdSocket.empty()) {
      removeDeadShimSocket(p_.paths.containerdSocket, p_.paths.containerdNamespace, id);
    }
    p_.volumes.release(record, removeVolumes, deadline);
    p_.networks.detach(id, deadline);
    p_.images.release(id, capped(deadline, 30s));
  } catch (const Error& e) {
    // As dockerd: a removal that could not finish leaves the container dead, removable again.
    p_.store.update(id, [&](ContainerRecord& r) {
      if (auto to = next(r.state.status, LifecycleEvent::removalFailed)) r.state.status = *to;
      r.state.error = e.what();
    });
    throw;
  }
  auto t2 = std::chrono::steady_clock::now();
  removeRunDirectory(p_.paths.runDirOf(id));
  // An auto-removal keeps the log a little: the client's attach (docker run --rm) may have
  // been cut by a bridge restart and resume from it.
  p_.store.remove(id, record.hostConfig.value("AutoRemove", false));
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  spdlog::debug("containers: remove {}: mark {:.1f} ms, runtime and layer {:.1f} ms, record {:.1f} ms", shortId(id),
                ms(t1 - t0), ms(t2 - t1), ms(std::chrono::steady_clock::now() - t2));
  p_.locks.forget(id);
  p_.teardown.forget(id);
  p_.backoff.forget(id);
  p_.runs.forgetContainer(id);
  // The event first: whoever waits for the removal (docker run --rm) finds it published.
  p_.events("destroy", record, {});
  p_.exits.removed(id, record.state.exitCode);
}

void ContainerLifecycle::deleteLeftTask(const std::string& id) {
  auto lock = lockOf(id);
  std::lock_guard guard(*lock);
  try {
    auto record = p_.store.get(id);
    if (hasLiveTask(record.state.status)) return;  // started again meanwhile: that start dealt with it
    p_.teardown.ensureGone(id, deadlineIn(30s));
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::notFound) {
      spdlog::warn("containers: restore: the stopped task of {} stays: {}", shortId(id), e.what());
    }
  }
}

void ContainerLifecycle::autoRemove(const std::string& id) {
  // A service (or containerd) restarting under the removal fails it `unavailable`; it is back
  // within a second, so the removal is made again rather than leaving the container dead.
  auto deadline = deadlineIn(std::chrono::minutes(2));
  for (int attempt = 1;; ++attempt) {
    try {
      remove(id, true, true, deadline);  // --rm takes the anonymous volumes too
      return;
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::notFound) return;
      if (e.kind() != ErrorKind::unavailable || attempt == 10 || expired(deadline)) {
        spdlog::warn("containers: auto-removing {}: {}", shortId(id), e.what());
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

void ContainerLifecycle::rename(const std::string& ref, const std::string& newName) {
  auto record = p_.store.get(ref);
  if (newName.empty()) throw Error(ErrorKind::invalid, "Neither old nor new names may be empty");
  std::string old = record.name;
  p_.store.rename(record.id, newName);
  p_.events("rename", p_.store.get(record.id), {{"oldName", old}});
}

}  // namespace berth::bridge
