// The API's read model of volumes (docs/ipc.md, "Volume views"): a copy of the volumes service's
// volumes, kept current from its views channel (ipc/view_copy.h), that answers
// GET /volumes/{name} and GET /volumes without an RPC.
//
// It answers only what is never older than anything a client was shown: every volume view stamp
// a reply or event carried (the volumes service's, and the containerd-bridge's, which passes on
// those of the anonymous volumes it makes and removes) must be reached first. Otherwise, and for
// a name it does not hold (the service says "no such volume"), it declines and the caller asks
// the service. The copy leaves out which containers use a volume and its size, keeping only
// whether any does (what a list filtered by dangling= looks at): the reads that show users or
// sizes ask the service.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipc/view_stamp.h"
#include "services/volumes/public/volumes_client.h"

namespace zmq {
class context_t;
}

namespace berth::ipc {
class RpcClient;
struct VolumeViewChange;
template <typename State, typename Change>
class ViewCopy;
}  // namespace berth::ipc

namespace berth::volumes {

class VolumeReadModel {
 public:
  // Subscribes to `viewsEndpoint` and takes snapshots through `volumes`, on a thread of its own.
  // The caller hands it every volume view stamp a reply or event carried (require()).
  VolumeReadModel(zmq::context_t& context, std::string viewsEndpoint, ipc::RpcClient& volumes);
  ~VolumeReadModel();
  VolumeReadModel(const VolumeReadModel&) = delete;
  VolumeReadModel& operator=(const VolumeReadModel&) = delete;

  void require(ipc::ViewStamp stamp);
  // A call to the service went away after its request left at `sentAt` (ipc::ViewCopy::requireRunAfter).
  void requireRunAfter(uint64_t sentAt);
  // The volume named `name` (no users, no size), or nullopt: ask the service.
  std::optional<VolumeInfo> inspect(const std::string& name);
  // The volumes GET /volumes shows for `filtersText` (its `filters` parameter; empty: all),
  // sorted by name (no users, no size), or nullopt: ask the service (the copy is behind). Throws invalid for filters
  // the service refuses, in its words (volume_filter.h).
  std::optional<std::vector<std::shared_ptr<const VolumeInfo>>> list(const std::string& filtersText = "");

  ipc::ViewCopyCounts counts() const;

  struct Volumes;  // by name (volume_read_model.cc)

 private:
  std::unique_ptr<ipc::ViewCopy<Volumes, ipc::VolumeViewChange>> copy_;
};

}  // namespace berth::volumes
