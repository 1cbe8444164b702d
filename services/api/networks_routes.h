// The network endpoints of the Docker API: list, create, inspect, remove, prune, and connect and
// disconnect (of a container before its first start, through the containerd-bridge, which owns
// the container's plan). Each asks the
// network service (through its typed client, services/network/public), which validates and
// owns every answer: the documents pass through as Docker's JSON.
#pragma once

#include "services/api/backends.h"
#include "services/api/router.h"

namespace berth::api {

class NetworksRoutes {
 public:
  explicit NetworksRoutes(Backends& backends) : backends_(backends) {}
  void registerOn(Router& router);

 private:
  void list(http::Request& req, http::ResponseWriter& out);
  void create(http::Request& req, http::ResponseWriter& out);
  void inspect(http::Request& req, http::ResponseWriter& out);
  void remove(http::Request& req, http::ResponseWriter& out);
  void connect(http::Request& req, http::ResponseWriter& out);
  void disconnect(http::Request& req, http::ResponseWriter& out);
  void prune(http::Request& req, http::ResponseWriter& out);

  Backends& backends_;
};

}  // namespace berth::api
