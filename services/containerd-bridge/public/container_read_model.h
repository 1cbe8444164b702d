// The API's read model of containers (docs/ipc.md, "Container views"): a copy of the bridge's
// container views, kept current from its views channel, that answers GET /containers/{id}/json
// and GET /containers/json (filtered too) without an RPC.
//
// It answers only what is never older than anything a client was shown: it holds a snapshot of
// the bridge's run that every later change continued without a gap, and it has caught up with
// the highest view stamp any reply or event of the bridge carried (require()). So a read never
// shows a state older
// than a write any client saw acknowledged, or an event any client received. Otherwise (not
// yet synchronised, a gap, a stamp it has not reached within a few milliseconds, one of a
// restarted bridge's run it holds no snapshot of, a reference it cannot resolve unambiguously,
// a record it cannot render) it declines, and the caller asks the bridge, as before. While the
// bridge is away or restarting, what it last published answers until a client is shown
// something newer: docker ps does not wait for the bridge's restore.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "ipc/view_stamp.h"

namespace zmq {
class context_t;
}

namespace berth::ipc {
class RpcClient;
}

namespace berth::bridge {

class ContainerReadModel {
 public:
  // Subscribes to `viewsEndpoint` and takes snapshots through `bridge`, on a thread of its own;
  // requires every view stamp a reply of `bridge` carries (RpcClient::onViewStamp, set here).
  ContainerReadModel(zmq::context_t& context, std::string viewsEndpoint, ipc::RpcClient& bridge);
  ~ContainerReadModel();
  ContainerReadModel(const ContainerReadModel&) = delete;
  ContainerReadModel& operator=(const ContainerReadModel&) = delete;

  // A view stamp the bridge sent (a reply's, an event's): reads wait until the model holds it.
  void require(ipc::ViewStamp stamp);
  // GET /containers/{ref}/json as the bridge would answer it, or nullopt: ask the bridge.
  std::optional<std::string> inspect(const std::string& ref);
  // GET /containers/json without sizes: running ones (or all), newest first, at most `limit`
  // when positive, those `filters` (the parameter's JSON, empty for none) admit as the bridge's
  // listing does; nullopt: ask the bridge (also for an ancestor= filter, which resolves images,
  // and for filters the bridge refuses, so that it says why).
  std::optional<std::string> list(bool all, int limit, const std::string& filters = "");

  struct Counts {
    uint64_t served = 0, declined = 0, snapshots = 0, changes = 0;
  };
  Counts counts() const;

 struct View;  // one container's, as the views channel brought it (container_read_model.cc)

 private:
  void run(std::string endpoint);
  // Follows the views channel until the model stops; throws when the channel fails.
  void follow(const std::string& endpoint);
  // Waits a little for the model to be current; false when it is not.
  bool current(std::unique_lock<std::mutex>& lock);
  bool takeSnapshot();
  // A view by full id, name or unique id prefix, as the bridge resolves; null otherwise.
  const View* findLocked(const std::string& ref) const;

  zmq::context_t& context_;
  ipc::RpcClient& bridge_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool synced_ = false;       // the snapshot's mark arrived and no gap since
  bool wantSnapshot_ = true;  // the loop takes a new snapshot
  uint64_t epoch_ = 0, seq_ = 0;
  ipc::ViewStamp required_;
  std::map<std::string, std::shared_ptr<const View>> byId_;
  std::map<std::string, std::string> byName_;  // "/name" -> id
  // A snapshot waiting for its mark. The state held answers meanwhile: through a restart of the
  // bridge, the last run's state until the new run's is in place, unless a client was shown
  // something of the new run (its stamp is required, so the model declines).
  struct Pending {
    std::map<std::string, std::shared_ptr<const View>> byId;
    std::map<std::string, std::string> byName;
    uint64_t epoch = 0, seq = 0;
  };
  std::optional<Pending> pending_;
  Counts counts_;
  std::atomic<bool> running_{true};
  std::thread thread_;
};

}  // namespace berth::bridge
