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

  std::string attach(const std::string& container, Deadline deadline) override {
    return network_.attach(container, deadline);
  }
  void detach(const std::string& container, Deadline deadline) override { network_.detach(container, deadline); }
  void reconcile(const std::vector<std::string>& containers, Deadline deadline) override {
    network_.reconcile(containers, deadline);
  }

 private:
  network::NetworkClient network_;
};

}  // namespace berth::bridge
