// GET/HEAD /_ping, GET /version, GET /info, GET /events.
#pragma once

#include "common/config.h"
#include "services/api/backends.h"
#include "services/api/event_hub.h"
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

// Parses a Docker timestamp parameter ("1700000000", "1700000000.123456789") into Unix
// nanoseconds; throws an invalid Error otherwise.
int64_t parseTimestamp(const std::string& name, const std::string& value);

}  // namespace berth::api
