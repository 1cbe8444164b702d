// GET/HEAD /_ping, GET /version, GET /info, GET /events.
#pragma once

#include "common/config.h"
#include "services/api/backends.h"
#include "services/api/event_hub.h"
#include "services/api/query_params.h"  // parseTimestamp, for since and until
#include "services/api/router.h"

namespace berth::api {

class SystemRoutes {
 public:
  SystemRoutes(const Config& config, Backends& backends, EventHub& events);
  void registerOn(Router& router);

 private:
  void ping(http::Request& req, http::ResponseWriter& out);
  void version(http::Request& req, http::ResponseWriter& out);
  void info(http::Request& req, http::ResponseWriter& out);
  void events(http::Request& req, http::ResponseWriter& out);

  const Config& config_;
  Backends& backends_;
  EventHub& events_;
  std::string engineId_;
};

}  // namespace berth::api
