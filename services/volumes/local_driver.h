// The local volume driver's rules, as dockerd's volume/local has them: which options a volume
// takes (type, device, o, size) and which need which; how `o` splits into mount(2) flags and
// filesystem data (moby/sys/mount's table); how a device is mounted on the volume's _data
// (the mount, then a propagation change, then a read-only remount of a bind) and unmounted;
// and dockerd's words for every failure. It keeps no state: whether a volume is mounted is
// asked of the kernel, who holds it is the reference table's business.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "services/volumes/mounter.h"

namespace berth::volumes {

using Options = std::map<std::string, std::string>;

// mount(2)'s flags and data from an `o` option, as moby/sys/mount's parseOptions splits them:
// words of its flag table set or clear flags, everything else (and "defaults") is data.
struct MountOptions {
  unsigned long flags = 0;
  std::string data;
};
MountOptions parseMountOptions(const std::string& o);

// go-units' RAMInBytes ("1m", "1.5GiB", "100"): bytes, or nullopt when it is not a size.
std::optional<int64_t> parseRamInBytes(const std::string& text);

class LocalDriver {
 public:
  explicit LocalDriver(Mounter& mounter) : mounter_(mounter) {}

  // Throws invalid with dockerd's message for options the local driver refuses: an unknown
  // key (`invalid option: "foo"`), type/o without device and device/o without type
  // (`missing required option: "device"`), a size that is not one, a size > 0 (berth has no
  // quota support, like dockerd on a filesystem without project quotas).
  static void validate(const Options& options);
  // Whether the volume has a device to mount (type or device given).
  static bool needsMount(const Options& options);

  // Mounts the volume's device on `path` (its _data). Throws internal with dockerd's message:
  // "error while mounting volume 'PATH': failed to mount local volume: mount DEV:PATH, ...".
  void mount(const Options& options, const std::string& path);
  // Unmounts `path` (detached, as moby does); not being mounted is no error.
  void unmount(const std::string& path);
  bool mounted(const std::string& path) { return mounter_.isMountPoint(path); }

 private:
  Mounter& mounter_;
};

}  // namespace berth::volumes
