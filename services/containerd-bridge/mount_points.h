// A container's mount points, as dockerd plans them at create from Docker's config: binds and
// named volumes (-v, HostConfig.Binds), --mount (HostConfig.Mounts) of type bind and volume,
// the anonymous volumes of Config.Volumes (an image's VOLUME, -v /path) that nothing else
// covers, and the mount points of --volumes-from containers. Input is the API's, untrusted:
// every malformed entry is refused with dockerd's words. tmpfs mounts stay with the spec
// builder (oci_spec), which also turns binds into OCI mounts; volumes become binds of their
// host path at start, once the volumes service has mounted them.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace berth::bridge {

struct MountPoint {
  enum class Type { bind, volume, tmpfs };  // tmpfs: a --mount type=tmpfs, made by the spec builder
  Type type = Type::bind;
  std::string source;       // bind: the host path; volume: empty until the volume exists
  std::string name;         // volume: its name (empty in a plan: an anonymous one, made at create)
  std::string destination;  // absolute, in the container
  bool readWrite = true;
  std::string mode;         // as the client wrote it ("ro", "z", ""), shown by inspect
  std::string propagation;  // bind: rprivate unless given
  bool copyData = true;     // volume: copy the image's content in when empty (false: nocopy)
  std::string driver;       // volume: "local" unless given
  std::map<std::string, std::string> driverOptions;  // volume: for creating it
  std::map<std::string, std::string> labels;         // volume: for creating it
  bool anonymous = false;   // volume: made for this container (docker rm -v removes it)

  nlohmann::json toJson() const;
  static MountPoint fromJson(const nlohmann::json& j);
};

// The mount points of another container (--volumes-from), by name or id; notFound when it is
// unknown.
using MountPointsOf = std::function<std::vector<MountPoint>(const std::string& ref)>;

// Plans the container's mount points from Docker's create request. Throws invalid with
// dockerd's message for a malformed entry, a relative destination, an unknown mode, or two
// mounts at one destination.
std::vector<MountPoint> planMountPoints(const nlohmann::json& config, const nlohmann::json& hostConfig,
                                        const MountPointsOf& mountPointsOf);

// The host config the spec builder gets: the binds and --mount entries it turns into OCI
// mounts itself (bind and tmpfs), without the volumes the container core mounts.
nlohmann::json hostConfigForSpec(const nlohmann::json& hostConfig);

// The OCI bind mount of a volume mount point whose host path is `path`.
nlohmann::json volumeSpecMount(const MountPoint& point, const std::string& path);

}  // namespace berth::bridge
