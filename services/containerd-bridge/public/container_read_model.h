// The API's read model of containers (docs/ipc.md, "Container views"): a copy of the bridge's
// container views, kept current from its views channel (ipc/view_copy.h), that answers
// GET /containers/{id}/json and GET /containers/json (filtered too) without an RPC.
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

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "ipc/view_stamp.h"

namespace zmq {
class context_t;
}

namespace berth::ipc {
class RpcClient;
struct ContainerViewChange;
template <typename State, typename Change>
class ViewCopy;
}  // namespace berth::ipc

namespace berth::bridge {

class ContainerReadModel {
 public:
  // Subscribes to `viewsEndpoint` and takes snapshots through `bridge`, on a thread of its own.
  // The caller hands it every container view stamp a reply or event carried (require()).
  ContainerReadModel(zmq::context_t& context, std::string viewsEndpoint, ipc::RpcClient& bridge);
  ~ContainerReadModel();
  ContainerReadModel(const ContainerReadModel&) = delete;
  ContainerReadModel& operator=(const ContainerReadModel&) = delete;

  // A view stamp the bridge sent (a reply's, an event's): reads wait until the model holds it.
  void require(ipc::ViewStamp stamp);
  // A call to the service went away after its request left at `sentAt` (ipc::ViewCopy::requireRunAfter).
  void requireRunAfter(uint64_t sentAt);
  // GET /containers/{ref}/json as the bridge would answer it, or nullopt: ask the bridge.
  std::optional<std::string> inspect(const std::string& ref);
  // GET /containers/json without sizes: running ones (or all), newest first, at most `limit`
  // when positive, those `filters` (the parameter's JSON, empty for none) admit as the bridge's
  // listing does; nullopt: ask the bridge (also for an ancestor= filter, which resolves images,
  // and for filters the bridge refuses, so that it says why).
  std::optional<std::string> list(bool all, int limit, const std::string& filters = "");
  // How many containers, running or not, each image id has (the Containers of
  // `GET /system/df`'s images, as dockerd counts them from its container store), or nullopt:
  // count the bridge's list instead.
  std::optional<std::map<std::string, int64_t>> containersPerImage();

  using Counts = ipc::ViewCopyCounts;
  Counts counts() const;

  struct View;   // one container's, as the views channel brought it (container_read_model.cc)
  struct Views;  // every container's, by id and by name

 private:
  std::unique_ptr<ipc::ViewCopy<Views, ipc::ContainerViewChange>> copy_;
};

}  // namespace berth::bridge
