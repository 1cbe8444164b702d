#include "services/volumes/volume_store.h"

#include <filesystem>

#include "common/files.h"

namespace berth::volumes {

VolumeStore::VolumeStore(std::string root) : root_(std::move(root)) { makeDirectories(root_, 0700); }

unsigned VolumeStore::count() const {
  std::error_code ec;
  unsigned n = 0;
  for (auto it = std::filesystem::directory_iterator(root_, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    if (it->is_directory()) ++n;
  }
  return n;
}

}  // namespace berth::volumes
