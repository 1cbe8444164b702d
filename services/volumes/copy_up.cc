#include "services/volumes/copy_up.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <vector>

#include "common/errors.h"
#include "common/files.h"
#include "services/volumes/directory_tree.h"

namespace berth::volumes {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
constexpr int kMaxDepth = 400;        // deeper trees fail the copy rather than the process
constexpr size_t kMaxLinkSources = 512;  // hard-linked files kept open to link their twins

class TreeCopy {
 public:
  void copyDirectory(int src, int dst, const std::string& path, int depth) {
    if (depth > kMaxDepth) throw Error(ErrorKind::internal, "copy " + path + ": the tree is deeper than " + std::to_string(kMaxDepth) + " levels");
    for (const auto& name : directoryEntries(src, path)) {
      std::string childPath = path + "/" + name;
      struct stat st {};
      if (::fstatat(src, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throwSystemError("stat", childPath);
      switch (st.st_mode & S_IFMT) {
        case S_IFDIR: {
          if (::mkdirat(dst, name.c_str(), 0700) != 0) throwSystemError("mkdir", childPath);
          UniqueFd s(::openat(src, name.c_str(), kDirFlags));
          if (!s) throwSystemError("open", childPath);
          UniqueFd d(::openat(dst, name.c_str(), kDirFlags));
          if (!d) throwSystemError("open", childPath);
          copyDirectory(s.get(), d.get(), childPath, depth + 1);
          applyMetadata(s.get(), d.get(), st, childPath);
          break;
        }
        case S_IFREG: copyFile(src, dst, name, st, childPath); break;
        case S_IFLNK: copySymlink(src, dst, name, st, childPath); break;
        case S_IFIFO:
        case S_IFCHR:
        case S_IFBLK:
          if (::mknodat(dst, name.c_str(), st.st_mode, st.st_rdev) != 0) throwSystemError("mknod", childPath);
          applyPathMetadata(dst, name, st, childPath);
          break;
        default: spdlog::debug("copy-up: skipping {} (a socket)", childPath); break;
      }
    }
  }

  // Mode, ownership, extended attributes and times of `st` onto the open `dst` (also used for
  // the volume's root).
  void applyMetadata(int srcFd, int dstFd, const struct stat& st, const std::string& path) {
    if (::fchown(dstFd, st.st_uid, st.st_gid) != 0) throwSystemError("chown", path);
    // After the chown, which clears set-id bits.
    if (::fchmod(dstFd, st.st_mode & 07777) != 0) throwSystemError("chmod", path);
    copyXattrs(srcFd, dstFd, path);
    timespec times[2] = {st.st_atim, st.st_mtim};
    if (::futimens(dstFd, times) != 0) throwSystemError("utimens", path);
  }

 private:
  void copyFile(int src, int dst, const std::string& name, const struct stat& st, const std::string& path) {
    std::pair<dev_t, ino_t> key{st.st_dev, st.st_ino};
    if (st.st_nlink > 1) {
      if (auto it = linkSources_.find(key); it != linkSources_.end()) {
        // AT_EMPTY_PATH links the very file copied before, by descriptor, not by a path that
        // something could have replaced since.
        if (::linkat(it->second.get(), "", dst, name.c_str(), AT_EMPTY_PATH) == 0) return;
        if (errno != EPERM && errno != ENOENT) throwSystemError("link", path);
        // Without CAP_DAC_READ_SEARCH: a copy of its own.
      }
    }
    UniqueFd in(::openat(src, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in) throwSystemError("open", path);
    UniqueFd out(::openat(dst, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) throwSystemError("create", path);
    copyData(in.get(), out.get(), path);
    applyMetadata(in.get(), out.get(), st, path);
    if (st.st_nlink > 1 && linkSources_.size() < kMaxLinkSources) linkSources_.emplace(key, std::move(out));
  }

  static void copyData(int in, int out, const std::string& path) {
    bool plain = false;
    for (;;) {
      ssize_t n;
      if (!plain) {
        n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
          plain = true;
          continue;
        }
      } else {
        char buf[1 << 16];
        n = ::read(in, buf, sizeof buf);
        if (n > 0) {
          for (ssize_t off = 0; off < n;) {
            ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
            if (w < 0) {
              if (errno == EINTR) continue;
              throwSystemError("write", path);
            }
            off += w;
          }
        }
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        throwSystemError(plain ? "read" : "copy_file_range", path);
      }
      if (n == 0) return;
    }
  }

  static void copySymlink(int src, int dst, const std::string& name, const struct stat& st, const std::string& path) {
    std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : 256) + 1, '\0');
    for (;;) {
      ssize_t n = ::readlinkat(src, name.c_str(), target.data(), target.size());
      if (n < 0) throwSystemError("readlink", path);
      if (static_cast<size_t>(n) < target.size()) {
        target.resize(static_cast<size_t>(n));
        break;
      }
      target.resize(target.size() * 2);
    }
    if (::symlinkat(target.c_str(), dst, name.c_str()) != 0) throwSystemError("symlink", path);
    if (::fchownat(dst, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) throwSystemError("lchown", path);
    timespec times[2] = {st.st_atim, st.st_mtim};
    if (::utimensat(dst, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) throwSystemError("utimens", path);
  }

  // For nodes that cannot be opened (fifos, devices): by name, never following a symlink that
  // something may have put in its place.
  static void applyPathMetadata(int dst, const std::string& name, const struct stat& st, const std::string& path) {
    if (::fchownat(dst, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) throwSystemError("lchown", path);
    if (::fchmodat(dst, name.c_str(), st.st_mode & 07777, AT_SYMLINK_NOFOLLOW) != 0) throwSystemError("chmod", path);
    timespec times[2] = {st.st_atim, st.st_mtim};
    if (::utimensat(dst, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) throwSystemError("utimens", path);
  }

  static void copyXattrs(int src, int dst, const std::string& path) {
    ssize_t size = ::flistxattr(src, nullptr, 0);
    if (size <= 0) return;  // none, or the filesystem keeps none
    std::string names(static_cast<size_t>(size), '\0');
    size = ::flistxattr(src, names.data(), names.size());
    if (size <= 0) return;
    names.resize(static_cast<size_t>(size));
    for (size_t at = 0; at < names.size();) {
      std::string key = names.c_str() + at;
      at += key.size() + 1;
      ssize_t len = ::fgetxattr(src, key.c_str(), nullptr, 0);
      if (len < 0) continue;
      std::string value(static_cast<size_t>(len), '\0');
      len = ::fgetxattr(src, key.c_str(), value.data(), value.size());
      if (len < 0) continue;
      if (::fsetxattr(dst, key.c_str(), value.data(), static_cast<size_t>(len), 0) != 0 && errno != ENOTSUP &&
          errno != EPERM) {
        throwSystemError("setxattr " + key, path);
      }
    }
  }

  std::map<std::pair<dev_t, ino_t>, UniqueFd> linkSources_;
};

}  // namespace

bool copyUpIfEmpty(const std::string& source, const std::string& target) {
  UniqueFd dst(::open(target.c_str(), kDirFlags));
  if (!dst) throwSystemError("open", target);
  if (!directoryEntries(dst.get(), target).empty()) return false;
  UniqueFd src(::open(source.c_str(), kDirFlags));
  if (!src) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return false;
    throwSystemError("open", source);
  }
  struct stat st {};
  if (::fstat(src.get(), &st) != 0) throwSystemError("stat", source);
  TreeCopy copy;
  copy.copyDirectory(src.get(), dst.get(), source, 0);
  copy.applyMetadata(src.get(), dst.get(), st, target);
  return true;
}

}  // namespace berth::volumes
