// The volume store's on-disk root (<data-root>/volumes): one directory per local volume. This
// issue lays out the root and counts; the volumes issue adds create/remove and reference counts.
#pragma once

#include <string>

namespace berth::volumes {

class VolumeStore {
 public:
  explicit VolumeStore(std::string root);
  unsigned count() const;

 private:
  std::string root_;
};

}  // namespace berth::volumes
