// The network service as its callers see it (the containerd-bridge for its containers'
// network namespaces): one typed method per method of ipc/schema/network.capnp. Every method
// is safe to repeat and retries while the service restarts, until the caller's deadline.
//
// The public part of the network service: it includes nothing of the service's private
// implementation (services/network/CMakeLists.txt checks).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/deadline.h"

namespace zmq {
class context_t;
}

namespace berth::ipc {
class RpcClient;
}

namespace berth::network {

class NetworkClient {
 public:
  NetworkClient(zmq::context_t& context, const std::string& endpoint);
  ~NetworkClient();
  NetworkClient(const NetworkClient&) = delete;
  NetworkClient& operator=(const NetworkClient&) = delete;

  // The container's network namespace path (made on the first call).
  std::string attach(const std::string& container, Deadline deadline);
  void detach(const std::string& container, Deadline deadline);
  // Every container the caller has: the namespaces of others are removed.
  void reconcile(const std::vector<std::string>& containers, Deadline deadline);

 private:
  std::unique_ptr<ipc::RpcClient> rpc_;
};

}  // namespace berth::network
