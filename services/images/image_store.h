// The image store's on-disk root (<data-root>/images). This issue lays out the directories and
// reads the counts /info reports; the images issue fills in content, layers and references.
#pragma once

#include <string>

namespace berth::images {

struct ImageCounts {
  unsigned images = 0;
  unsigned layers = 0;
  std::string storageDriver = "overlay2";
  std::string backingFilesystem;  // e.g. "extfs", "xfs", "tmpfs"
};

class ImageStore {
 public:
  // Creates the store's directories under `root` (mode 0700) when missing.
  explicit ImageStore(std::string root);
  ImageCounts counts() const;

 private:
  std::string root_;
};

}  // namespace berth::images
