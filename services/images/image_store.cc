#include "services/images/image_store.h"

#include <sys/statfs.h>

#include <filesystem>

#include "common/files.h"

namespace berth::images {
namespace {

unsigned countEntries(const std::string& dir) {
  std::error_code ec;
  unsigned n = 0;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    ++n;
  }
  return n;
}

std::string filesystemName(long type) {
  switch (static_cast<unsigned long>(type)) {
    case 0xEF53: return "extfs";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x794c7630: return "overlayfs";
    default: return "unknown";
  }
}

}  // namespace

ImageStore::ImageStore(std::string root) : root_(std::move(root)) {
  makeDirectories(root_, 0700);
  makeDirectories(root_ + "/imagedb/content/sha256", 0700);
  makeDirectories(root_ + "/layerdb/sha256", 0700);
}

ImageCounts ImageStore::counts() const {
  ImageCounts c;
  c.images = countEntries(root_ + "/imagedb/content/sha256");
  c.layers = countEntries(root_ + "/layerdb/sha256");
  struct statfs fs {};
  c.backingFilesystem = statfs(root_.c_str(), &fs) == 0 ? filesystemName(fs.f_type) : "unknown";
  return c;
}

}  // namespace berth::images
