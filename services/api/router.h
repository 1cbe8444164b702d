// Routes Docker Engine API requests: strips and checks the /vX.Y prefix as dockerd does,
// matches method and path pattern, and answers dockerd's errors for everything else. Handlers
// throw berth::Error; the router maps its kind to Docker's status code and JSON body here, at
// the edge, and nowhere else.
#pragma once

#include <string>
#include <vector>

#include "common/errors.h"
#include "services/api/http/http_server.h"

namespace berth::api {

constexpr const char* kApiVersion = "1.43";
constexpr const char* kMinApiVersion = "1.24";

// Compares "1.40" style versions numerically: <0, 0, >0.
int compareApiVersions(const std::string& a, const std::string& b);

class Router {
 public:
  // `pattern` segments in braces bind request params: "/containers/{id}/json". One segment may
  // be written {name*}: it takes one or more segments, so image names with slashes match
  // ("/images/{name*}/json" matches "/images/registry.local/app:v1/json").
  // With `streamBody` the handler reads the body itself through Request::readBody.
  void add(const std::string& method, const std::string& pattern, http::Handler handler, bool streamBody = false);
  void dispatch(http::Request& req, http::ResponseWriter& out) const;
  // Whether the request's route streams its body (asked before the body is read).
  bool streamsBody(http::Request& req) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    http::Handler handler;
    bool streamBody;
    size_t greedy;  // the index of the segment a `{name*}` parameter takes, segments.size() if none
  };
  const Route* match(const std::string& method, const std::string& path,
                     std::map<std::string, std::string>& params) const;
  std::vector<Route> routes_;
};

// Docker's status code for an error kind.
int httpStatus(ErrorKind kind);

}  // namespace berth::api
