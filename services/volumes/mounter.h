// The kernel's mount table as the local driver uses it: mount(2), umount2(2) and "is something
// mounted on this path". An interface so the driver's rules (moby's option parsing, its
// remount steps, its messages) are tested without root against a fake.
#pragma once

#include <string>

namespace berth::volumes {

class Mounter {
 public:
  virtual ~Mounter() = default;
  // mount(2): 0, or the errno it failed with.
  virtual int mount(const std::string& source, const std::string& target, const std::string& type, unsigned long flags,
                    const std::string& data) = 0;
  // umount2(2): 0, or the errno it failed with.
  virtual int unmount(const std::string& target, int flags) = 0;
  // Whether `path` is the root of a mount (statx's STATX_ATTR_MOUNT_ROOT; a symbolic link is
  // never followed). A path that does not exist is not one.
  virtual bool isMountPoint(const std::string& path) = 0;
};

// The real kernel.
class KernelMounter : public Mounter {
 public:
  int mount(const std::string& source, const std::string& target, const std::string& type, unsigned long flags,
            const std::string& data) override;
  int unmount(const std::string& target, int flags) override;
  bool isMountPoint(const std::string& path) override;
};

}  // namespace berth::volumes
