// GET /system/df (`docker system df`): images with their shared sizes and container counts,
// containers with their sizes, local volumes with their sizes and reference counts, and an
// empty build cache, as dockerd's SystemDiskUsage writes them. The sizes are measured on disk
// on each call by the services that own them (the bridge with the images service for the
// containers, the volumes service for the volumes), the two calls made at once; the images,
// and how many containers use each, come from the API's copies when they are current. The API
// only counts across them (which containers use which image, which layers images share) and
// writes the bridge's list into its answer as the bridge wrote it.
//
// Also the part of `docker system prune` that has nothing to prune in berth: the build cache
// (berth builds no images). It validates its filters as dockerd does and answers that nothing
// was deleted, which is true, so `docker system prune` runs through instead of failing on a
// 404.
#pragma once

#include "services/api/backends.h"
#include "services/api/router.h"

namespace berth::api {

class DiskUsageRoutes {
 public:
  explicit DiskUsageRoutes(Backends& backends) : backends_(backends) {}
  void registerOn(Router& router);

 private:
  void diskUsage(http::Request& req, http::ResponseWriter& out);
  void pruneBuildCache(http::Request& req, http::ResponseWriter& out);

  Backends& backends_;
};

}  // namespace berth::api
