// The network service as the containers core sees it (network_service.h), over the network
// service's public client. Every call is safe to repeat and retries while the service
// restarts, until the caller's deadline.
#pragma once

#include <string>
#include <vector>

#include "services/containerd-bridge/network_service.h"
#include "services/network/public/network_client.h"

namespace berth::bridge {

class NetworkServiceClient final : public NetworkService {
 public:
  NetworkServiceClient(zmq::context_t& context, const std::string& endpoint) : network_(context, endpoint) {}

  Attached attach(const std::string& container, const nlohmann::json& request, Deadline deadline) override {
    auto attached = network_.attach(container, request.dump(), deadline);
    auto settings = nlohmann::json::parse(attached.settings, nullptr, false);
    return {attached.netnsPath, settings.is_discarded() ? nlohmann::json() : settings};
  }
  void checkNetwork(const std::string& ref, Deadline deadline) override { network_.inspect(ref, deadline); }
  void detach(const std::string& container, Deadline deadline) override { network_.detach(container, deadline); }
  void reconcile(const std::vector<std::string>& containers, Deadline deadline) override {
    network_.reconcile(containers, deadline);
  }

 private:
  network::NetworkClient network_;
};

}  // namespace berth::bridge
