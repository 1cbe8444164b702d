// The network service as the containers core sees it (network_service.h), over the network
// service's public client. Every call is safe to repeat and retries while the service
// restarts, until the caller's deadline.
#pragma once

#include <string>
#include <vector>

#include "ipc/rpc_client.h"
#include "ipc/view_stamp.h"
#include "services/containerd-bridge/network_service.h"
#include "services/network/public/network_client.h"
#include "common/json_text.h"

namespace berth::bridge {

class NetworkServiceClient final : public NetworkService {
 public:
  NetworkServiceClient(zmq::context_t& context, const std::string& endpoint) : rpc_(context, endpoint), network_(rpc_) {
    rpc_.onViewStamp([this](ipc::ViewKind kind, ipc::ViewStamp stamp) {
      if (kind == ipc::ViewKind::networks) networkViews_.observe(stamp);
    });
  }

  // The highest network view stamp the service's replies carried: the bridge's own replies and
  // events carry it on (ipc/view_stamp.h), so a client shown a container's start, removal,
  // connect or disconnect also finds its endpoints in the API's read model of networks.
  ipc::ViewStamp networkViews() const { return networkViews_.current(); }

  Attached attach(const std::string& container, const nlohmann::json& request, Deadline deadline) override {
    auto attached = network_.attach(container, request.dump(), deadline);
    auto settings = parseJsonOrDiscarded(attached.settings);
    return {attached.netnsPath, settings.is_discarded() ? nlohmann::json() : settings};
  }
  void checkNetwork(const std::string& ref, Deadline deadline) override { network_.inspect(ref, deadline); }
  nlohmann::json connect(const std::string& container, const std::string& network, const nlohmann::json& endpointConfig,
                         Deadline deadline) override {
    return parsed(network_.connect(container, network, endpointConfig.dump(), deadline));
  }
  nlohmann::json disconnect(const std::string& container, const std::string& network, Deadline deadline) override {
    return parsed(network_.disconnect(container, network, deadline));
  }
  void detach(const std::string& container, Deadline deadline) override { network_.detach(container, deadline); }
  void reconcile(const std::vector<std::string>& containers, Deadline deadline) override {
    network_.reconcile(containers, deadline);
  }

 private:
  static nlohmann::json parsed(const std::string& text) {
    auto j = parseJsonOrDiscarded(text);
    return j.is_discarded() ? nlohmann::json() : j;
  }
  ipc::RpcClient rpc_;
  network::NetworkClient network_;
  ipc::ViewStampRelay networkViews_;
};

}  // namespace berth::bridge
