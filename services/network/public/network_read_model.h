// The API's read model of networks (docs/ipc.md, "Network views"): a copy of the network
// service's networks as inspect shows them, kept current from its views channel
// (ipc/view_copy.h), that answers GET /networks/{id} by id, name or id prefix and GET /networks,
// filtered or not, without an RPC.
//
// It answers only what is never older than anything a client was shown: every network view
// stamp a reply or event carried (the network service's, and the containerd-bridge's, which
// passes on those of the endpoints it connects and disconnects) must be reached first.
// Otherwise, and for a reference it does not hold (no such network, or an id prefix more than
// one network has: the service answers in its own words), it declines and the caller asks the
// service.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ipc/view_stamp.h"

namespace zmq {
class context_t;
}

namespace berth::ipc {
class RpcClient;
struct NetworkViewChange;
template <typename State, typename Change>
class ViewCopy;
}  // namespace berth::ipc

namespace berth::network {

class NetworkReadModel {
 public:
  // Subscribes to `viewsEndpoint` and takes snapshots through `network`, on a thread of its
  // own. The caller hands it every network view stamp a reply or event carried (require()).
  NetworkReadModel(zmq::context_t& context, std::string viewsEndpoint, ipc::RpcClient& network);
  ~NetworkReadModel();
  NetworkReadModel(const NetworkReadModel&) = delete;
  NetworkReadModel& operator=(const NetworkReadModel&) = delete;

  void require(ipc::ViewStamp stamp);
  // A call to the service went away after its request left at `sentAt` (ipc::ViewCopy::requireRunAfter).
  void requireRunAfter(uint64_t sentAt);
  // The network with id, name or id prefix `ref` as GET /networks/{id} shows it (JSON text), or nullopt:
  // ask the service.
  std::optional<std::string> inspect(const std::string& ref);
  // The networks GET /networks shows for `filtersText` (its `filters` parameter; empty: all), a
  // JSON array by id, or nullopt: ask the service. Throws invalid for filters the service
  // refuses, in its words (network_filter.h).
  std::optional<std::string> list(const std::string& filtersText = "");

  ipc::ViewCopyCounts counts() const;

  struct Networks;  // by id and name (network_read_model.cc)

 private:
  std::unique_ptr<ipc::ViewCopy<Networks, ipc::NetworkViewChange>> copy_;
};

}  // namespace berth::network
