// A container layer's overlay mounted as containerd mounts it, for unit tests that compare the
// images service's own merge (export, diff) with the kernel's. Unmounted (detached) when it
// goes, if the test did not unmount it first.
#pragma once

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "services/images/image_store.h"

namespace berth::test {

class OverlayMount {
 public:
  // Mounts `mount` (an overlay from prepareContainerLayer) on `target`, made if missing; error()
  // says why when it could not.
  OverlayMount(const images::ImageStore::Mount& mount, std::string target) : target_(std::move(target)) {
    std::filesystem::create_directories(target_);
    std::string options;
    for (const auto& o : mount.options) options += (options.empty() ? "" : ",") + o;
    if (::mount("overlay", target_.c_str(), mount.type.c_str(), 0, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::string(std::strerror(errno)) + " " + options;
    }
  }
  ~OverlayMount() {
    if (mounted_) ::umount2(target_.c_str(), MNT_DETACH);
  }
  OverlayMount(const OverlayMount&) = delete;
  OverlayMount& operator=(const OverlayMount&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  // A plain unmount, as containerd's at the end: false (errno set) when it failed.
  bool unmount() {
    if (::umount(target_.c_str()) != 0) return false;
    mounted_ = false;
    return true;
  }

 private:
  std::string target_;
  bool mounted_ = false;
  std::string error_;
};

}  // namespace berth::test
