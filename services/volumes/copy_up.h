// dockerd's copy-up (copyExistingContents): when a container first mounts an empty volume over
// a directory of its image, the directory's content is copied into the volume — files with
// their mode, ownership, timestamps and extended attributes, hard links as links, directories,
// symbolic links as links, fifos and device nodes; sockets are skipped, as containerd's
// CopyDir skips them. The volume's root takes the directory's own mode, ownership and times.
//
// The source is a container's root filesystem and the target may be shared with a running
// container, so neither is trusted: every step is relative to a directory descriptor opened
// with O_NOFOLLOW, new entries are created with O_EXCL/O_NOFOLLOW, and metadata is set through
// descriptors or with AT_SYMLINK_NOFOLLOW. No symbolic link is ever followed and nothing is
// written outside the target.
#pragma once

#include <string>

namespace berth::volumes {

// Copies `source`'s content into `target` when `target` is empty. Returns false without
// copying when `target` has entries, or when `source` does not exist, is not a directory or
// is a symbolic link (its last component is not followed; the caller resolves the path within
// the container's root filesystem). Throws internal, naming the call and the path, on failure.
bool copyUpIfEmpty(const std::string& source, const std::string& target);

}  // namespace berth::volumes
