#include "services/volumes/mounter.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>

#include "common/errors.h"

namespace berth::volumes {

int KernelMounter::mount(const std::string& source, const std::string& target, const std::string& type,
                         unsigned long flags, const std::string& data) {
  int rc = ::mount(source.empty() ? nullptr : source.c_str(), target.c_str(), type.empty() ? nullptr : type.c_str(),
                   flags, data.empty() ? nullptr : data.c_str());
  return rc == 0 ? 0 : errno;
}

int KernelMounter::unmount(const std::string& target, int flags) {
  return ::umount2(target.c_str(), flags | UMOUNT_NOFOLLOW) == 0 ? 0 : errno;
}

bool KernelMounter::isMountPoint(const std::string& path) {
  struct statx stx {};
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &stx) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    throwSystemError("statx", path);
  }
  if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
    throw Error(ErrorKind::internal, "statx " + path + ": the kernel does not report mount roots (Linux 5.8 or later is needed)");
  }
  return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

}  // namespace berth::volumes
