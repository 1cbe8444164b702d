// The volumes service as its callers see it (the API for docker volume, system df and events;
// the containerd-bridge for the volumes its containers use): one typed method per method of
// ipc/schema/volumes.capnp, taking and returning plain C++ values. The schema states each
// method's contract; this client hides the Cap'n Proto messages.
//
// This is the public part of the volumes service: it includes nothing of the service's private
// implementation (services/volumes/CMakeLists.txt checks), and the service's core does not
// depend on it.
//
// Every method takes the caller's deadline. Methods that are safe to repeat (summary, inspect,
// list, reference, release, mount, populate, unmount, reconcile: each leaves the same state when called
// twice) retry while the service restarts, until the deadline; create, remove and prune fail
// `unavailable` at once when it goes away (ipc/rpc_client.h).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/deadline.h"

namespace zmq {
class context_t;
}

namespace berth::ipc {
class RpcClient;
}

namespace berth::volumes {

struct VolumeInfo {
  std::string name;
  std::string driver;      // "local"
  std::string mountpoint;  // <data-root>/volumes/<name>/_data
  int64_t createdAtNano = 0;
  std::map<std::string, std::string> labels;   // with com.docker.volume.anonymous for an anonymous one
  std::map<std::string, std::string> options;  // the local driver's, as given
  bool anonymous = false;
  std::vector<std::string> users;  // containers that reference it, running or not
  int64_t sizeBytes = -1;          // -1 unless sizes were asked for
  bool inUse = false;              // users is not empty (the read model's copy has this, not users)
};

struct VolumeCreate {
  std::string name;    // empty: a random 64-hex name
  std::string driver;  // "" or "local"
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> options;
  bool anonymous = false;
};

struct CreatedVolume {
  VolumeInfo volume;
  bool created = false;  // false: it existed and is returned as it is
};

struct VolumesPruned {
  std::vector<std::string> removed;
  uint64_t reclaimedBytes = 0;
};

// One container's use of volumes, for reconcile.
struct ContainerVolumes {
  std::string container;             // 64-hex id
  std::vector<std::string> volumes;  // referenced
  std::vector<std::string> mounted;  // of those, mounted for its running task
};

class VolumesClient {
 public:
  // Over an RPC client the caller owns and keeps alive (the API shares it with its event hub).
  explicit VolumesClient(ipc::RpcClient& rpc);
  // With an RPC client of its own to `endpoint`.
  VolumesClient(zmq::context_t& context, const std::string& endpoint);
  ~VolumesClient();
  VolumesClient(const VolumesClient&) = delete;
  VolumesClient& operator=(const VolumesClient&) = delete;

  uint32_t summary(Deadline deadline);

  // The API's.
  CreatedVolume create(const VolumeCreate& request, Deadline deadline);
  VolumeInfo inspect(const std::string& name, Deadline deadline);
  // `filtersJson`: Docker's filters (dangling, driver, label, name); empty for none.
  std::vector<VolumeInfo> list(const std::string& filtersJson, bool withSizes, Deadline deadline);
  void remove(const std::string& name, bool force, Deadline deadline);
  // `filtersJson`: label, label!, all. `all`: every unused volume, not only anonymous ones.
  VolumesPruned prune(const std::string& filtersJson, bool all, Deadline deadline);

  // The containerd-bridge's.
  void reference(const std::string& container, const std::vector<std::string>& volumes, Deadline deadline);
  void release(const std::string& container, Deadline deadline);
  // The host path to bind at `destination`. `copyFrom`: the image's directory at the
  // destination, inside the container's mounted root filesystem, or empty for no copy-up.
  std::string mount(const std::string& container, const std::string& name, const std::string& destination,
                    bool readWrite, const std::string& copyFrom, Deadline deadline);
  // At the container's create: the image's directory at the destination (in its mounted root
  // filesystem) copied into the volume when the volume is empty.
  void populate(const std::string& container, const std::string& name, const std::string& copyFrom,
                Deadline deadline);
  void unmount(const std::string& container, const std::string& name, Deadline deadline);
  void reconcile(const std::vector<ContainerVolumes>& containers, Deadline deadline);

 private:
  std::unique_ptr<ipc::RpcClient> owned_;
  ipc::RpcClient& rpc_;
};

}  // namespace berth::volumes
