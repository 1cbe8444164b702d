// The volume endpoints of the Docker API: list, create, inspect, remove, prune. Each asks the
// volumes service (through its typed client, services/volumes/public), which validates and owns
// every answer, except an inspect and an unfiltered list that the API's copy of the volumes
// answers while it is current (volume_read_model.h); this file translates between Docker's
// JSON and its replies.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "services/api/backends.h"
#include "services/api/router.h"

namespace berth::api {

class VolumesRoutes {
 public:
  explicit VolumesRoutes(Backends& backends) : backends_(backends) {}
  void registerOn(Router& router);

 private:
  void list(http::Request& req, http::ResponseWriter& out);
  void create(http::Request& req, http::ResponseWriter& out);
  void inspect(http::Request& req, http::ResponseWriter& out);
  void remove(http::Request& req, http::ResponseWriter& out);
  void prune(http::Request& req, http::ResponseWriter& out);

  Backends& backends_;
};

// A volume as dockerd writes it (CreatedAt, Driver, Labels, Mountpoint, Name, Options, Scope;
// with `usage`, UsageData {RefCount, Size} as in /system/df).
nlohmann::json volumeJson(const volumes::VolumeInfo& v, bool usage = false);

// GET /volumes's body, {"Volumes":[...],"Warnings":null}, the same text as dumping a document
// of volumeJson entries, written without building one.
std::string volumesListText(const std::vector<volumes::VolumeInfo>& all);
std::string volumesListText(const std::vector<std::shared_ptr<const volumes::VolumeInfo>>& all);

// Go's time.Format(time.RFC3339) of a time in the local zone: seconds, "Z" or "+hh:mm".
std::string rfc3339Local(int64_t unixNanos);

}  // namespace berth::api
