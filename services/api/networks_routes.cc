#include "services/api/networks_routes.h"

#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "common/json_text.h"
#include "services/api/query_params.h"

namespace berth::api {

using json = nlohmann::json;
using namespace std::chrono_literals;

void NetworksRoutes::registerOn(Router& router) {
  auto bind = [this](void (NetworksRoutes::*fn)(http::Request&, http::ResponseWriter&)) {
    return [this, fn](http::Request& req, http::ResponseWriter& out) { (this->*fn)(req, out); };
  };
  router.add("GET", "/networks", bind(&NetworksRoutes::list));
  router.add("POST", "/networks/create", bind(&NetworksRoutes::create));
  router.add("POST", "/networks/prune", bind(&NetworksRoutes::prune));
  router.add("GET", "/networks/{id}", bind(&NetworksRoutes::inspect));
  router.add("DELETE", "/networks/{id}", bind(&NetworksRoutes::remove));
  router.add("POST", "/networks/{id}/connect", bind(&NetworksRoutes::connect));
  router.add("POST", "/networks/{id}/disconnect", bind(&NetworksRoutes::disconnect));
}

void NetworksRoutes::list(http::Request& req, http::ResponseWriter& out) {
  auto filters = filtersParam(req);
  // From the API's copy when it is current, with the service's own filter (network_filter.h):
  // the same networks, and the same refusal of an unknown filter. Text that is no JSON object
  // goes to the service, which answers it in its words. (The service reads the text as JSON and
  // writes it again before its filter parses it; so does this, so a refusal quotes it alike.)
  auto document = filters.empty() ? nlohmann::json::object() : parseJsonOrDiscarded(filters);
  if (document.is_object()) {
    if (auto held = backends_.networkViews.list(filters.empty() ? "" : document.dump())) {
      out.send(200, "application/json", *held + "\n");
      return;
    }
  }
  auto text = backends_.network.list(filters, ipc::deadlineIn(10s));
  out.send(200, "application/json", text + "\n");
}

void NetworksRoutes::create(http::Request& req, http::ResponseWriter& out) {
  auto body = parseJsonOrDiscarded(req.body);
  if (body.is_discarded() || !body.is_object()) throw Error(ErrorKind::invalid, "invalid JSON: the request body is not a JSON object");
  auto id = backends_.network.create(body.dump(), ipc::deadlineIn(60s));
  out.json(201, {{"Id", id}, {"Warning", ""}});
}

void NetworksRoutes::inspect(http::Request& req, http::ResponseWriter& out) {
  // verbose and scope (swarm) change nothing for local networks.
  auto scope = req.queryValue("scope").value_or("");
  if (!scope.empty() && scope != "local") throw Error(ErrorKind::notFound, "network " + req.params["id"] + " not found");
  // By full id, name or id prefix from the API's copy when it is current; an ambiguous prefix or
  // an unknown name asks the service, which answers in its words.
  if (auto held = backends_.networkViews.inspect(req.params["id"])) {
    out.send(200, "application/json", *held + "\n");
    return;
  }
  out.send(200, "application/json", backends_.network.inspect(req.params["id"], ipc::deadlineIn(10s)) + "\n");
}

void NetworksRoutes::remove(http::Request& req, http::ResponseWriter& out) {
  backends_.network.remove(req.params["id"], ipc::deadlineIn(60s));
  out.send(204, "", "");
}

namespace {

json bodyObject(const http::Request& req) {
  auto body = parseJsonOrDiscarded(req.body);
  if (body.is_discarded() || !body.is_object()) throw Error(ErrorKind::invalid, "invalid JSON: the request body is not a JSON object");
  return body;
}

std::string containerOf(const json& body) {
  if (!body.contains("Container") || !body["Container"].is_string() || body["Container"].get<std::string>().empty()) {
    throw Error(ErrorKind::invalid, "invalid JSON: Container must be a container's name or id");
  }
  return body["Container"].get<std::string>();
}

}  // namespace

void NetworksRoutes::connect(http::Request& req, http::ResponseWriter& out) {
  json body = bodyObject(req);
  json config = body.value("EndpointConfig", json::object());
  if (!config.is_object() && !config.is_null()) throw Error(ErrorKind::invalid, "invalid JSON: EndpointConfig must be an object");
  // The network's name, as dockerd keys a container's networks by name.
  auto network = parseJson(backends_.network.inspect(req.params["id"], ipc::deadlineIn(10s)));
  backends_.bridge.setNetwork(containerOf(body), network.value("Name", req.params["id"]),
                              config.is_null() ? "{}" : config.dump(), true, ipc::deadlineIn(30s));
  out.send(200, "", "");
}

void NetworksRoutes::disconnect(http::Request& req, http::ResponseWriter& out) {
  json body = bodyObject(req);
  auto network = parseJson(backends_.network.inspect(req.params["id"], ipc::deadlineIn(10s)));
  backends_.bridge.setNetwork(containerOf(body), network.value("Name", req.params["id"]), "{}", false, ipc::deadlineIn(30s));
  out.send(200, "", "");
}

void NetworksRoutes::prune(http::Request& req, http::ResponseWriter& out) {
  auto removed = backends_.network.prune(filtersParam(req), ipc::deadlineIn(10min));
  out.json(200, {{"NetworksDeleted", removed.empty() ? json() : json(removed)}});
}

}  // namespace berth::api
