#include "services/volumes/directory_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <set>
#include <vector>

#include "common/errors.h"
#include "common/files.h"
#include "common/random.h"

namespace berth::volumes {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
// Deeper than this a size walk stops counting and a removal flattens the tree.
constexpr int kMaxDepth = 200;

}  // namespace

std::vector<std::string> directoryEntries(int fd, const std::string& what) {
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) throwSystemError("dup", what);
  DIR* dir = ::fdopendir(dup);
  if (!dir) {
    int err = errno;
    ::close(dup);
    throwSystemError("fdopendir", what, err);
  }
  ::rewinddir(dir);
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(dir)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err) throwSystemError("readdir", what, err);
  return names;
}

namespace {

void sizeOf(int dirFd, int depth, std::set<ino_t>& seen, int64_t& total) {
  std::vector<std::string> names;
  try {
    names = directoryEntries(dirFd, "directory");
  } catch (const Error&) {
    return;
  }
  for (const auto& name : names) {
    struct stat st {};
    if (::fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (depth >= kMaxDepth) continue;
      UniqueFd child(::openat(dirFd, name.c_str(), kDirFlags));
      if (child) sizeOf(child.get(), depth + 1, seen, total);
      continue;
    }
    if (st.st_size == 0) continue;
    // dockerd keys hard links by inode number alone.
    if (!seen.insert(st.st_ino).second) continue;
    total += st.st_size;
  }
}

bool isMountRoot(int fd) {
  struct statx stx {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) != 0) throwSystemError("statx", "directory");
  return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

// Empties the directory `fd` (called `path` in messages); deep subdirectories are moved to
// `flattenFd` and queued in `later`.
void emptyDirectory(int fd, const std::string& path, int depth, int flattenFd, std::deque<std::string>& later) {
  for (const auto& name : directoryEntries(fd, path)) {
    std::string childPath = path + "/" + name;
    if (::unlinkat(fd, name.c_str(), 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR) throwSystemError("unlink", childPath);
    if (depth >= kMaxDepth) {
      std::string fresh = ".deep-" + randomHex(8);
      if (::renameat(fd, name.c_str(), flattenFd, fresh.c_str()) != 0) throwSystemError("rename", childPath);
      later.push_back(fresh);
      continue;
    }
    {
      UniqueFd child(::openat(fd, name.c_str(), kDirFlags));
      if (!child) throwSystemError("open", childPath);
      if (isMountRoot(child.get())) throw Error(ErrorKind::internal, "remove " + childPath + ": a filesystem is mounted there");
      emptyDirectory(child.get(), childPath, depth + 1, flattenFd, later);
    }
    if (::unlinkat(fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) throwSystemError("rmdir", childPath);
  }
}

}  // namespace

int64_t treeSize(const std::string& path) {
  UniqueFd root(::open(path.c_str(), kDirFlags));
  if (!root) throwSystemError("open", path);
  std::set<ino_t> seen;
  int64_t total = 0;
  sizeOf(root.get(), 0, seen, total);
  return total;
}

void removeTreeAt(int parentFd, const std::string& name) {
  std::deque<std::string> queue{name};
  while (!queue.empty()) {
    std::string item = queue.front();
    queue.pop_front();
    if (::unlinkat(parentFd, item.c_str(), 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR) throwSystemError("unlink", item);
    {
      UniqueFd fd(::openat(parentFd, item.c_str(), kDirFlags));
      if (!fd) throwSystemError("open", item);
      if (isMountRoot(fd.get())) throw Error(ErrorKind::internal, "remove " + item + ": a filesystem is mounted there");
      emptyDirectory(fd.get(), item, 0, parentFd, queue);
    }
    if (::unlinkat(parentFd, item.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) throwSystemError("rmdir", item);
  }
}

}  // namespace berth::volumes
