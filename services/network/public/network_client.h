// The network service as its callers see it (the containerd-bridge for its containers'
// networks, the API for docker network): one typed method per method of
// ipc/schema/network.capnp. Docker-shaped documents are Docker's JSON text, as on the wire.
// Every method but create and prune is safe to repeat and retries while the service restarts,
// until the caller's deadline.
//
// The public part of the network service: it includes nothing of the service's private
// implementation (services/network/CMakeLists.txt checks).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/deadline.h"

namespace berth::ipc {
class RpcClient;
}

namespace berth::network {

class NetworkClient {
 public:
  // Calls through `rpc`, which outlives the client (its owner routes the view stamps the
  // replies carry).
  explicit NetworkClient(ipc::RpcClient& rpc) : rpc_(rpc) {}
  NetworkClient(const NetworkClient&) = delete;
  NetworkClient& operator=(const NetworkClient&) = delete;

  struct Attached {
    std::string netnsPath;
    std::string settings;  // JSON: {Networks, Ports, Nameservers}
  };
  // The container's network namespace path (made on the first call) and its networks.
  // `request` is the JSON the schema describes.
  Attached attach(const std::string& container, const std::string& request, Deadline deadline);
  void detach(const std::string& container, Deadline deadline);
  // Every container the caller has: the namespaces of others are removed.
  void reconcile(const std::vector<std::string>& containers, Deadline deadline);

  // docker network connect/disconnect of an attached container: its settings JSON after.
  std::string connect(const std::string& container, const std::string& network, const std::string& endpointConfig,
                      Deadline deadline);
  std::string disconnect(const std::string& container, const std::string& network, Deadline deadline);

  // docker network: the documents are Docker's JSON; the results too.
  std::string create(const std::string& request, Deadline deadline);
  std::string inspect(const std::string& ref, Deadline deadline);
  std::string list(const std::string& filters, Deadline deadline);
  void remove(const std::string& ref, Deadline deadline);
  std::vector<std::string> prune(const std::string& filters, Deadline deadline);

 private:
  ipc::RpcClient& rpc_;
};

}  // namespace berth::network
