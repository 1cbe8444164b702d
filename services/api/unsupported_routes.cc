#include "services/api/unsupported_routes.h"

#include <nlohmann/json.hpp>

namespace berth::api {

namespace {

const char* const kNotAManager =
    "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to "
    "swarm and try again.";

http::Handler answer(int status, std::string message) {
  return [status, message](http::Request&, http::ResponseWriter& out) { out.error(status, message); };
}

http::Handler notImplemented(const std::string& feature) {
  return answer(501, "not implemented: berth does not support " + feature);
}

}  // namespace

void UnsupportedRoutes::registerOn(Router& router) {
  // Swarm, as a dockerd that is not part of one answers.
  router.add("GET", "/swarm", answer(503, kNotAManager));
  router.add("GET", "/swarm/unlockkey", answer(503, kNotAManager));
  router.add("POST", "/swarm/update", answer(503, kNotAManager));
  router.add("POST", "/swarm/unlock", answer(503, kNotAManager));
  router.add("POST", "/swarm/leave", answer(503, "This node is not part of a swarm"));
  router.add("POST", "/swarm/init", notImplemented("swarm mode"));
  router.add("POST", "/swarm/join", notImplemented("swarm mode"));
  for (const std::string kind : {"nodes", "services", "tasks", "secrets", "configs"}) {
    router.add("GET", "/" + kind, answer(503, kNotAManager));
    router.add("GET", "/" + kind + "/{id}", answer(503, kNotAManager));
    router.add("DELETE", "/" + kind + "/{id}", answer(503, kNotAManager));
    router.add("POST", "/" + kind + "/{id}/update", answer(503, kNotAManager));
  }
  router.add("POST", "/services/create", answer(503, kNotAManager));
  router.add("POST", "/secrets/create", answer(503, kNotAManager));
  router.add("POST", "/configs/create", answer(503, kNotAManager));
  router.add("GET", "/services/{id}/logs", answer(503, kNotAManager));
  router.add("GET", "/tasks/{id}/logs", answer(503, kNotAManager));

  // Plugins: none installed, none installable.
  router.add("GET", "/plugins", [](http::Request&, http::ResponseWriter& out) { out.json(200, nlohmann::json::array()); });
  router.add("GET", "/plugins/privileges", notImplemented("plugins"));
  router.add("POST", "/plugins/pull", notImplemented("plugins"));
  router.add("POST", "/plugins/create", notImplemented("plugins"));
  // As for an unknown plugin (none exist): `docker inspect X` asks for a plugin too.
  router.add("GET", "/plugins/{name*}/json", [](http::Request& req, http::ResponseWriter& out) {
    out.error(404, "plugin \"" + req.params["name"] + "\" not found");
  });
  router.add("DELETE", "/plugins/{name*}", notImplemented("plugins"));
  router.add("POST", "/plugins/{name*}/enable", notImplemented("plugins"));
  router.add("POST", "/plugins/{name*}/disable", notImplemented("plugins"));
  router.add("POST", "/plugins/{name*}/upgrade", notImplemented("plugins"));
  router.add("POST", "/plugins/{name*}/push", notImplemented("plugins"));
  router.add("POST", "/plugins/{name*}/set", notImplemented("plugins"));

  router.add("POST", "/build", notImplemented("image builds (docker build)"));
  router.add("POST", "/build/cancel", notImplemented("image builds (docker build)"));
  router.add("POST", "/session", notImplemented("BuildKit sessions"));
  router.add("POST", "/grpc", notImplemented("BuildKit sessions"));
  router.add("GET", "/images/search", notImplemented("image search"));
  router.add("GET", "/distribution/{name*}/json", notImplemented("registry distribution inspect"));
  router.add("GET", "/containers/{id}/attach/ws", notImplemented("websocket attach"));
}

}  // namespace berth::api
