// Extracting one image layer from untrusted bytes into an overlay2-style directory.
//
// The layer is a tar stream, plain or gzip-compressed. While extracting, the uncompressed
// stream is hashed (its sha256 is the layer's diff ID) and copied verbatim to a file, so that
// `docker save` can hand back exactly the bytes that were loaded.
//
// Archive-safety rules (docs/images.md): an entry whose name is absolute or climbs out with
// `..`, a hard link whose target does, and an entry whose parent is a symlink are refused (the
// whole layer fails, naming the entry). Symlinks are kept as they are: they resolve inside the
// container's root, and nothing here follows them. Device nodes, FIFOs and sockets are skipped,
// as are xattrs in the trusted.overlay namespace (they would steer overlayfs). Whiteouts
// (`.wh.NAME`) become overlay whiteouts (0:0 character devices) and `.wh..wh..opq` marks its
// directory opaque.
#pragma once

#include <cstdint>
#include <string>

namespace berth::images {

struct ExtractedLayer {
  std::string diffId;          // "sha256:<hex>" of the uncompressed tar stream
  uint64_t tarBytes = 0;       // length of the uncompressed tar stream
  uint64_t contentBytes = 0;   // sum of regular files' sizes (the layer's share of an image's Size)
};

// Extracts `sourcePath` into `targetDir` (an existing empty directory whose path holds no
// symlink) and writes the uncompressed tar to `tarCopyPath`. Throws berth::Error(invalid, ...)
// naming the offending entry or the corruption found.
ExtractedLayer extractLayer(const std::string& sourcePath, const std::string& targetDir,
                            const std::string& tarCopyPath);

// Returns the archive-relative name without "./" prefixes and duplicate slashes, or throws
// invalid when it is absolute or climbs out with "..".
std::string cleanEntryName(const std::string& name);

}  // namespace berth::images
