// Extracting one image layer from untrusted bytes into an overlay2-style directory.
//
// The layer is a tar stream, plain or gzip-compressed. While extracting, the uncompressed
// stream is hashed (its sha256 is the layer's diff ID) and kept verbatim in a file, so that
// `docker save` can hand back exactly the bytes that were loaded: a gzip layer's tar is written
// out as it is inflated; a plain layer's file is that tar already and is hard-linked.
//
// Archive-safety rules (docs/images.md): an entry whose name is absolute or climbs out with
// `..`, a hard link whose target does, and an entry whose parent is a symlink are refused (the
// whole layer fails, naming the entry). Symlinks are kept as they are: they resolve inside the
// container's root, and nothing here follows them. Device nodes, FIFOs and sockets are skipped,
// as are xattrs in the trusted.overlay namespace (they would steer overlayfs). Whiteouts
// (`.wh.NAME`) become overlay whiteouts (0:0 character devices) and `.wh..wh..opq` marks its
// directory opaque.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace berth::images {

struct ExtractedLayer {
  std::string diffId;          // "sha256:<hex>" of the uncompressed tar stream
  uint64_t tarBytes = 0;       // length of the uncompressed tar stream
  uint64_t contentBytes = 0;   // sum of regular files' sizes (the layer's share of an image's Size)
};

// Extracts `sourcePath` into `targetDir` (an existing empty directory whose path holds no
// symlink) and leaves the uncompressed tar at `tarCopyPath` (a hard link to `sourcePath` when
// that is a plain tar, on the same filesystem; the caller must not change the source after). Throws berth::Error(invalid, ...)
// naming the offending entry or the corruption found. Once `cancel` (when given) becomes true,
// the extraction stops at its next chunk with berth::Error(conflict), leaving a partial target.
ExtractedLayer extractLayer(const std::string& sourcePath, const std::string& targetDir,
                            const std::string& tarCopyPath, const std::atomic<bool>* cancel = nullptr);

// Returns the archive-relative name without "./" prefixes and duplicate slashes, or throws
// invalid when it is absolute or climbs out with "..".
std::string cleanEntryName(const std::string& name);

}  // namespace berth::images
