// Walks of a volume's directory tree that never follow a symbolic link: its size as dockerd
// counts it, and its removal. Both work on directory descriptors (openat with O_NOFOLLOW), so
// a container that swaps a directory for a symlink while the walk runs cannot lead it outside
// the tree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace berth::volumes {

// The names in the open directory `fd` (without . and ..), read through a descriptor of its
// own; `what` names it in errors.
std::vector<std::string> directoryEntries(int fd, const std::string& what);

// dockerd's directory.Size: the bytes of every entry that is not a directory (a symlink counts
// its own length), each inode once. Mounts below `path` are counted as found. Throws when
// `path` cannot be opened; unreadable parts below it are skipped.
int64_t treeSize(const std::string& path);

// Removes `name` in the directory `parentFd` and everything below it. Never follows a symlink
// and never descends into a mount (it throws, leaving that part in place). Trees deeper than a
// few hundred levels are flattened on the way: their deep parts are moved up to `parentFd`
// under fresh names and removed from there, so neither the stack nor the descriptors grow
// with the depth a container chose.
void removeTreeAt(int parentFd, const std::string& name);

}  // namespace berth::volumes
