#include "services/containerd-bridge/containers_core.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <thread>

#include "common/docker_filters.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/json_text.h"
#include "common/time_format.h"
#include "services/containerd-bridge/container_config.h"

namespace berth::bridge {

using json = nlohmann::json;

ContainersCore::ContainersCore(Edges edges)
    : e_(std::move(edges)),
      exits_(e_.store, e_.paths.runDir + "/.removed"),
      volumes_(e_.store, e_.volumes, e_.host, e_.scheduler),
      networks_(e_.store, e_.network, e_.scheduler),
      teardown_(e_.tasks, e_.containers, e_.host, volumes_, e_.paths),
      launcher_(e_.store, e_.tasks, e_.containers, e_.images, e_.host, teardown_, volumes_, networks_, e_.paths),
      exitHandler_(e_.store, e_.tasks, teardown_, exits_, backoff_, e_.scheduler, e_.events, e_.paths),
      reaper_(e_.tasks, e_.scheduler, e_.paths),
      execs_(e_.store, e_.tasks, reaper_, e_.events, e_.paths),
      health_(e_.store, e_.tasks, reaper_, exits_, e_.scheduler, e_.events, e_.paths),
      views_(e_.store, e_.tasks, e_.images, execs_, e_.paths),
      resources_(e_.store, e_.tasks, locks_, e_.scheduler, e_.events, e_.paths),
      files_(e_.store, e_.images, e_.host, locks_, e_.paths),
      lifecycle_({e_.store, e_.tasks, e_.images, launcher_, teardown_, volumes_, networks_, exits_, locks_, backoff_,
                  exitHandler_,
                  *this, e_.events, e_.paths}),
      restorer_(e_.store, e_.tasks, teardown_, exitHandler_, lifecycle_, *this, volumes_, reaper_, e_.host,
                e_.scheduler, e_.paths),
      layerOps_(e_.store, e_.layers, locks_,
                {[this](const std::string& id, Deadline d) { lifecycle_.pause(id, d); },
                 [this](const std::string& id, Deadline d) { lifecycle_.unpause(id, d); }}),
      strays_(e_.store, e_.tasks, teardown_, locks_, e_.scheduler, e_.paths.containerdSocket, e_.paths.containerdNamespace,
              e_.paths.cgroupParent) {
  makeDirectories(e_.paths.runDir, 0700);
  exitHandler_.setFollowUp(&lifecycle_);
  exitHandler_.setCheckInterval(e_.exitCheckInterval);
}

ContainersCore::~ContainersCore() { stopBackgroundWork(); }

void ContainersCore::stopBackgroundWork() {
  exitHandler_.end();
  resources_.stop();
  strays_.stop();
  reaper_.stop();
  stopping_ = true;
}

void ContainersCore::removeAbandoned() {
  std::map<std::string, pid_t> creators;
  {
    std::lock_guard lock(creatorsMutex_);
    creators = creators_;
  }
  for (const auto& [id, pid] : creators) {
    // Settled: started, not --rm, removed, or removed here. Forgotten then, whether or not the
    // API that created it still runs (kept, every container run through a live API stayed here).
    bool settled = true;
    try {
      auto record = e_.store.get(id);
      if (record.state.status == ContainerStatus::created && !record.hasBeenStarted &&
          record.hostConfig.value("AutoRemove", false)) {
        if (::kill(pid, 0) == 0 || errno == EPERM) continue;  // the API that created it still runs
        // A start in progress holds the lock: it carries on, and the next round finds it started.
        auto lock = locks_.of(id);
        std::unique_lock guard(*lock, std::try_to_lock);
        settled = guard.owns_lock();
        if (settled) {
          guard.unlock();
          spdlog::info("containers: removing {}, a --rm container whose client went away with the API (pid {}) "
                       "before starting it",
                       id.substr(0, 12), pid);
          lifecycle_.autoRemove(id);
        }
      }
    } catch (const Error&) {
      // Removed already.
    }
    if (settled) {
      std::lock_guard lock(creatorsMutex_);
      creators_.erase(id);
    }
  }
}

void ContainersCore::restore() {
  resources_.watchOom();
  // Exits are followed before the restore lists the tasks: one after the listing is an event.
  exitHandler_.follow(std::chrono::seconds(2));
  restorer_.restore();
  networks_.restored();
  if (!e_.paths.containerdSocket.empty()) {
    // Shims containerd lost track of are swept in the background, at once and every 10 s: a
    // sweep reads every process's name and lists containerd's tasks again (40 ms with 100
    // running), which the bridge's readiness need not wait for.
    strays_.start();
    e_.scheduler.run([this] {
      while (!stopping_) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        if (stopping_) break;
        try {
          removeAbandoned();
        } catch (const std::exception& e) {
          spdlog::warn("containers: removing abandoned containers: {}", e.what());
        }
        try {
          checkExitsIfDue();
        } catch (const std::exception& e) {
          spdlog::warn("containers: checking the watched containers: {}", e.what());
        }
      }
    });
  }
}

void ContainersCore::shutdown(std::chrono::seconds timeout) {
  exitHandler_.stop();  // no restarts by policy while the engine stops
  restorer_.shutdown(timeout);
}

void ContainersCore::watchRun(const ContainerRecord& record, const ExitHandler::FollowPoint& since) {
  exitHandler_.watch(record.id, record.exits, static_cast<uint32_t>(record.state.pid), since);
  health_.watch(record);
}

void ContainersCore::forgetContainer(const std::string& id) { execs_.forgetContainer(id); }

json ContainersCore::inspectWithSize(const std::string& ref, Deadline deadline) const {
  json one = json::array({views_.inspect(ref)});
  layerOps_.addSizes(one, deadline);
  return std::move(one[0]);
}

std::string ContainersCore::listText(const ListOptions& options, Deadline deadline) const {
  if (!options.size) return views_.listText(options, deadline);
  return views_.listText(options, deadline,
                         [&](const std::vector<std::string>& ids) { return layerOps_.sizes(ids, deadline); });
}

json ContainersCore::list(const ListOptions& options, Deadline deadline) const {
  json containers = views_.list(options, deadline);
  if (options.size) layerOps_.addSizes(containers, deadline);
  return containers;
}

void ContainersCore::resize(const std::string& ref, uint32_t height, uint32_t width, Deadline deadline) {
  auto record = e_.store.get(ref);
  admit(Operation::resize, record.state.status, {record.id, record.name, ref});
  e_.tasks.resizePty(record.id, "", width, height, deadline);
}

void ContainersCore::closeStdin(const std::string& id, const std::string& execId) {
  try {
    e_.tasks.closeStdin(id, execId, deadlineIn(std::chrono::seconds(10)));
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::notFound) spdlog::warn("containers: closing stdin of {}: {}", id.substr(0, 12), e.what());
  }
}

json ContainersCore::prune(const json& filters, Deadline deadline) {
  // As moby's ContainersPrune: label and label! as matchLabels reads them, until= at most once.
  auto pruneFilters = DockerFilters::parse(filters.is_object() ? filters.dump() : "", {"label", "label!", "until"});
  auto until = pruneFilters.pruneUntil(nowUnixNanos());
  ListOptions options;
  options.all = true;
  std::vector<std::string> candidates;
  for (const auto& c : views_.list(options, deadline)) {
    auto status = parseStatus(c.value("State", ""));
    if (status != ContainerStatus::exited && status != ContainerStatus::created && status != ContainerStatus::dead) {
      continue;
    }
    if (until && c.value("Created", int64_t{0}) * 1000000000 > *until) continue;
    if (!pruneFilters.matchLabels(stringEntries(c.value("Labels", json())))) continue;
    candidates.push_back(c["Id"].get<std::string>());
  }
  // As dockerd: the space reclaimed is the removed containers' writable layers, measured before
  // they go (one call for all). Without the sizes the prune still happens, reporting 0.
  std::map<std::string, ContainerLayers::Size> sizes;
  if (e_.layers && !candidates.empty()) {
    try {
      sizes = e_.layers->sizes(candidates, capped(deadline, std::chrono::seconds(60)));
    } catch (const Error& e) {
      spdlog::warn("containers: prune: the layers' sizes are unknown ({}); reporting 0 reclaimed", e.what());
    }
  }
  json deleted = json::array();
  int64_t reclaimed = 0;
  for (const auto& id : candidates) {
    try {
      lifecycle_.remove(id, false, false, deadline);
      deleted.push_back(id);
      if (auto it = sizes.find(id); it != sizes.end() && it->second.rw > 0) reclaimed += it->second.rw;
    } catch (const Error& e) {
      spdlog::warn("containers: prune {}: {}", id, e.what());
    }
  }
  ContainerRecord none;
  e_.events("prune", none, {{"reclaimed", std::to_string(reclaimed)}});
  return {{"ContainersDeleted", deleted.empty() ? json() : deleted}, {"SpaceReclaimed", reclaimed}};
}

}  // namespace berth::bridge
