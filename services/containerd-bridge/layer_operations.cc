#include "services/containerd-bridge/layer_operations.h"

#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "services/containerd-bridge/container_views.h"
#include "common/json_text.h"

namespace berth::bridge {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// The new image's config: the container's, with the request body's non-null fields over it,
// less what belongs to the container rather than the image (dockerd's commit does the same).
json commitConfig(const ContainerRecord& record, const std::string& body) {
  json config = inspectedConfig(record);
  if (!body.empty()) {
    auto requested = parseJsonOrDiscarded(body);
    if (!requested.is_object() && !requested.is_null()) throw Error(ErrorKind::invalid, "invalid JSON in the request body");
    if (requested.is_object()) {
      for (auto it = requested.begin(); it != requested.end(); ++it) {
        if (!it.value().is_null()) config[it.key()] = it.value();
      }
    }
  }
  for (const char* key : {"Hostname", "Domainname", "AttachStdin", "AttachStdout", "AttachStderr", "OpenStdin",
                          "StdinOnce", "Tty", "Image"}) {
    config.erase(key);
  }
  return config;
}

// Unpauses, when it goes out of scope, the container a commit paused.
class PausedForCommit {
 public:
  PausedForCommit(const LayerOperations::Pausing& pausing, std::string id, Deadline deadline)
      : pausing_(pausing), id_(std::move(id)), deadline_(deadline) {}
  ~PausedForCommit() {
    if (!paused_) return;
    // However long the commit took, the container is not left frozen: the unpause gets time of
    // its own when the caller's is spent.
    try {
      pausing_.unpause(id_, std::max(deadline_, deadlineIn(10s)));
    } catch (const std::exception& e) {
      spdlog::warn("containers: unpausing {} after its commit: {}", id_.substr(0, 12), e.what());
    }
  }
  PausedForCommit(const PausedForCommit&) = delete;
  PausedForCommit& operator=(const PausedForCommit&) = delete;

  // As dockerd's commit: a container that cannot be paused (not running, restarting, already
  // paused) is committed as it is.
  void pause() {
    try {
      pausing_.pause(id_, deadline_);
      paused_ = true;
    } catch (const Error& e) {
      spdlog::debug("containers: committing {} without pausing it: {}", id_.substr(0, 12), e.what());
    }
  }

 private:
  const LayerOperations::Pausing& pausing_;
  std::string id_;
  Deadline deadline_;
  bool paused_ = false;
};

}  // namespace

ContainerLayers& LayerOperations::layers() const {
  if (!layers_) throw Error(ErrorKind::unavailable, "this bridge has no images service for container layers");
  return *layers_;
}

LayerOperations::Held LayerOperations::hold(const std::string& ref) const {
  Held held;
  std::string id = store_.get(ref).id;
  held.lock = locks_.of(id);
  held.hold = std::unique_lock(*held.lock);
  held.record = store_.get(id);  // a removal that held the lock before us: notFound
  return held;
}

std::vector<ContainerLayers::Change> LayerOperations::changes(const std::string& ref, Deadline deadline) {
  auto held = hold(ref);
  return layers().changes(held.record.id, deadline);
}

ContainerLayers::Download LayerOperations::exportBegin(const std::string& ref, Deadline deadline) {
  auto held = hold(ref);
  return layers().exportBegin(held.record.id, deadline);
}

std::string LayerOperations::commit(const std::string& ref, const CommitRequest& request, Deadline deadline) {
  auto& images = layers();
  auto record = store_.get(ref);
  ContainerLayers::Commit commit{commitConfig(record, request.body), request.changes, request.reference, request.message,
                                 request.author};
  // Paused before the lock is taken (the lifecycle's pause takes it), unpaused after it is let go.
  PausedForCommit paused(pausing_, record.id, deadline);
  if (request.pause) paused.pause();
  auto held = hold(record.id);
  return images.commit(held.record.id, commit, deadline);
}

void LayerOperations::addSizes(json& containers, Deadline deadline) const {
  std::vector<std::string> ids;
  for (const auto& c : containers) ids.push_back(c.value("Id", ""));
  if (ids.empty()) return;
  auto sizes = layers().sizes(ids, deadline);
  for (auto& c : containers) {
    auto it = sizes.find(c.value("Id", ""));
    if (it == sizes.end()) continue;
    c["SizeRw"] = it->second.rw;
    c["SizeRootFs"] = it->second.rootFs;
  }
}

}  // namespace berth::bridge
