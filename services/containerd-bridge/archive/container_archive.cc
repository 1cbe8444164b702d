#include "services/containerd-bridge/archive/container_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <climits>
#include <iostream>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "common/errors.h"
#include "common/time_format.h"

namespace berth::bridge::archive {
namespace {

using json = nlohmann::json;

std::string goQuote(const std::string& s) { return json(s).dump(-1, ' ', false, json::error_handler_t::replace); }

// Lexical clean of a relative path, keeping leading ".." (Go's filepath.Clean): "." when empty.
std::string cleanRelative(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string part = path.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") parts.pop_back();
      else parts.push_back(part);
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out.empty() ? "." : out;
}

bool escapes(const std::string& cleanedRelative) {
  return cleanedRelative == ".." || cleanedRelative.rfind("../", 0) == 0;
}

// Go's filepath.Base.
std::string goBase(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path == "/") return "/";
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::optional<std::string> realPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return std::nullopt;
  return std::string(buf);
}

[[noreturn]] void notFound(const std::string& path) {
  throw Error(ErrorKind::notFound, "Could not find the file " + path + " in container");
}

struct ReadArchive {
  ::archive* a;
  ReadArchive(::archive* a) : a(a) {}
  ~ReadArchive() { archive_read_free(a); }
};
struct WriteArchive {
  ::archive* a;
  WriteArchive(::archive* a) : a(a) {}
  ~WriteArchive() { archive_write_free(a); }
};
struct Entry {
  archive_entry* e = archive_entry_new();
  ~Entry() { archive_entry_free(e); }
};

[[noreturn]] void archiveError(::archive* a, const std::string& what) {
  const char* message = archive_error_string(a);
  throw Error(ErrorKind::invalid, what + ": " + (message ? message : "archive error"));
}

}  // namespace

std::string cleanContainerPath(const std::string& original) {
  std::string cleaned = "/" + cleanRelative(original);
  if (cleaned == "/.") cleaned = "/";
  bool currentDir = goBase(original) == "." || original == "." || original.ends_with("/.");
  if (currentDir && goBase(cleaned) != ".") {
    if (cleaned.back() != '/') cleaned += '/';
    cleaned += '.';
  }
  if (cleaned.back() != '/' && !original.empty() && original.back() == '/') cleaned += '/';
  return cleaned;
}

uint32_t goFileMode(uint32_t m) {
  uint32_t mode = m & 0777;
  switch (m & S_IFMT) {
    case S_IFDIR: mode |= 1u << 31; break;
    case S_IFLNK: mode |= 1u << 27; break;
    case S_IFBLK: mode |= 1u << 26; break;
    case S_IFCHR: mode |= (1u << 26) | (1u << 21); break;
    case S_IFIFO: mode |= 1u << 25; break;
    case S_IFSOCK: mode |= 1u << 24; break;
    default: break;
  }
  if (m & S_ISUID) mode |= 1u << 23;
  if (m & S_ISGID) mode |= 1u << 22;
  if (m & S_ISVTX) mode |= 1u << 20;
  return mode;
}

ResolvedPath resolvePath(const std::string& path) {
  ResolvedPath r;
  r.absPath = cleanContainerPath(path);
  auto slash = r.absPath.rfind('/');
  std::string parent = r.absPath.substr(0, slash + 1), base = r.absPath.substr(slash + 1);
  auto resolvedParent = realPath(parent);
  if (!resolvedParent) notFound(path);
  r.resolved = *resolvedParent;
  if (!base.empty()) r.resolved += (r.resolved == "/" ? "" : "/") + base;
  return r;
}

json statPath(const ResolvedPath& path) {
  struct stat st {};
  if (::lstat(path.resolved.c_str(), &st) != 0) notFound(path.absPath);
  std::string linkTarget;
  if (S_ISLNK(st.st_mode)) {
    // The link's target inside the container (dockerd's FollowSymlinkInScope).
    if (auto target = realPath(path.resolved)) {
      linkTarget = *target;
    } else {
      char buf[PATH_MAX];
      ssize_t n = ::readlink(path.resolved.c_str(), buf, sizeof buf);
      if (n > 0) linkTarget = std::string(buf, static_cast<size_t>(n));
    }
  }
  int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return {{"name", goBase(path.absPath)},
          {"size", static_cast<int64_t>(st.st_size)},
          {"mode", goFileMode(st.st_mode)},
          {"mtime", rfc3339Nano(mtime)},
          {"linkTarget", linkTarget}};
}

void writeArchive(const ResolvedPath& path, ArchiveWriteFn write) {
  std::string source = path.resolved, dir, base;
  if (source == "/" || source.ends_with("/.")) {
    dir = source == "/" ? "/" : source.substr(0, source.size() - 2);
    if (dir.empty()) dir = "/";
    base = ".";
  } else {
    auto slash = source.rfind('/');
    dir = slash == 0 ? "/" : source.substr(0, slash);
    base = source.substr(slash + 1);
  }
  std::string rebase = goBase(path.absPath);
  if (rebase == "/") rebase = ".";
  if (::chdir(dir.c_str()) != 0) notFound(path.absPath);

  ReadArchive disk(archive_read_disk_new());
  archive_read_disk_set_symlink_physical(disk.a);
  archive_read_disk_set_behavior(disk.a, ARCHIVE_READDISK_NO_ACL | ARCHIVE_READDISK_NO_FFLAGS);
  WriteArchive out(archive_write_new());
  archive_write_set_format_pax_restricted(out.a);
  archive_write_set_bytes_in_last_block(out.a, 1);
  if (archive_write_open2(out.a, nullptr, nullptr, write, nullptr, nullptr) != ARCHIVE_OK) {
    archiveError(out.a, "writing the archive");
  }
  if (archive_read_disk_open(disk.a, base.c_str()) != ARCHIVE_OK) notFound(path.absPath);

  std::vector<char> buf(64 * 1024);
  for (;;) {
    Entry entry;
    int r = archive_read_next_header2(disk.a, entry.e);
    if (r == ARCHIVE_EOF) break;
    if (r == ARCHIVE_FATAL) archiveError(disk.a, "reading " + path.absPath);
    if (r != ARCHIVE_OK) {
      // An entry that vanished or cannot be read: skipped, as dockerd logs and skips it.
      std::cerr << "berth-archive: skipping an entry: " << (archive_error_string(disk.a) ? archive_error_string(disk.a) : "") << "\n";
      if (r == ARCHIVE_FAILED) continue;
    }
    archive_read_disk_descend(disk.a);
    if (archive_entry_filetype(entry.e) == AE_IFSOCK) continue;  // tar cannot hold a socket
    std::string name = archive_entry_pathname(entry.e);
    if (name == base) name = rebase;
    else if (name.rfind(base + "/", 0) == 0) name = rebase + name.substr(base.size());
    archive_entry_set_pathname(entry.e, name.c_str());
    r = archive_write_header(out.a, entry.e);
    if (r == ARCHIVE_FATAL) archiveError(out.a, "writing " + name);
    if (r == ARCHIVE_FAILED) continue;
    if (archive_entry_filetype(entry.e) != AE_IFREG) continue;
    for (;;) {
      la_ssize_t n = archive_read_data(disk.a, buf.data(), buf.size());
      if (n < 0) archiveError(disk.a, "reading " + name);  // the header is out: the archive cannot go on
      if (n == 0) break;
      if (archive_write_data(out.a, buf.data(), static_cast<size_t>(n)) < 0) archiveError(out.a, "writing " + name);
    }
  }
  if (archive_write_close(out.a) != ARCHIVE_OK) archiveError(out.a, "writing the archive");
}

std::string extractionDirectory(const std::string& path) {
  std::string abs = cleanContainerPath(path);
  auto dir = realPath(abs);
  if (!dir) notFound(path);
  struct stat st {};
  if (::stat(dir->c_str(), &st) != 0) notFound(path);
  if (!S_ISDIR(st.st_mode)) throw Error(ErrorKind::invalid, "extraction point is not a directory");
  struct statvfs vfs {};
  if (::statvfs(dir->c_str(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
    struct stat root {};
    bool onRoot = ::stat("/", &root) == 0 && root.st_dev == st.st_dev;
    throw Error(ErrorKind::forbidden, onRoot ? "container rootfs is marked read-only" : "mounted volume is marked read-only");
  }
  return *dir;
}

void extractArchive(int fd, const std::string& dir, const ExtractOptions& options) {
  if (::chdir(dir.c_str()) != 0) throw Error(ErrorKind::notFound, "Could not find the file " + dir + " in container");
  ReadArchive in(archive_read_new());
  // In process only: an ARCHIVE_WARN here means libarchive would run an external program.
  for (auto support : {archive_read_support_filter_gzip, archive_read_support_filter_bzip2, archive_read_support_filter_xz,
                       archive_read_support_filter_zstd}) {
    if (support(in.a) != ARCHIVE_OK) throw Error(ErrorKind::internal, "libarchive lacks a built-in decompressor");
  }
  archive_read_support_format_tar(in.a);
  archive_read_support_format_empty(in.a);
  if (archive_read_open_fd(in.a, fd, 64 * 1024) != ARCHIVE_OK) archiveError(in.a, "reading the archive");
  // Numeric owners only: no name look-ups (see writeArchive). Paths were checked above, and
  // the chroot keeps symlinks that are already in the container inside it.
  WriteArchive disk(archive_write_disk_new());
  archive_write_disk_set_options(disk.a, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                             ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_UNLINK |
                                             ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  for (;;) {
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(in.a, &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) archiveError(in.a, "reading the archive");
    std::string raw = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    std::string name = cleanRelative(raw);
    if (escapes(name)) throw Error(ErrorKind::invalid, goQuote(raw) + " is outside of " + goQuote(dir));
    if (name == ".") continue;  // the extraction directory itself keeps its metadata
    if (const char* link = archive_entry_symlink(entry); link && archive_entry_filetype(entry) == AE_IFLNK) {
      std::string target = link;
      auto slash = name.rfind('/');
      std::string parent = slash == std::string::npos ? "" : name.substr(0, slash);
      if (!target.empty() && target.front() != '/' && escapes(cleanRelative(parent + "/" + target))) {
        throw Error(ErrorKind::invalid, "invalid symlink " + goQuote(dir + "/" + name) + " -> " + goQuote(target));
      }
    }
    if (const char* hard = archive_entry_hardlink(entry)) {
      std::string target = cleanRelative(hard);
      if (escapes(target)) throw Error(ErrorKind::invalid, "invalid hardlink " + goQuote(name) + " -> " + goQuote(hard));
      archive_entry_set_hardlink(entry, target.c_str());
    }
    bool entryIsDir = archive_entry_filetype(entry) == AE_IFDIR;
    struct stat existing {};
    if (options.noOverwriteDirNonDir && ::lstat(name.c_str(), &existing) == 0) {
      bool isDir = S_ISDIR(existing.st_mode);
      if (isDir && !entryIsDir) {
        throw Error(ErrorKind::invalid, "cannot overwrite directory " + goQuote(dir + "/" + name) + " with non-directory " + goQuote(raw));
      }
      if (!isDir && entryIsDir) {
        throw Error(ErrorKind::invalid, "cannot overwrite non-directory " + goQuote(dir + "/" + name) + " with directory " + goQuote(raw));
      }
    }
    if (options.owner) {
      archive_entry_set_uid(entry, options.owner->first);
      archive_entry_set_gid(entry, options.owner->second);
    }
    archive_entry_set_pathname(entry, name.c_str());
    if (archive_write_header(disk.a, entry) < ARCHIVE_WARN) archiveError(disk.a, "extracting " + name);
    const void* block;
    size_t size;
    la_int64_t offset;
    for (;;) {
      r = archive_read_data_block(in.a, &block, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) archiveError(in.a, "reading " + name);
      if (archive_write_data_block(disk.a, block, size, offset) < ARCHIVE_WARN) archiveError(disk.a, "extracting " + name);
    }
    if (archive_write_finish_entry(disk.a) < ARCHIVE_WARN) archiveError(disk.a, "extracting " + name);
  }
  if (archive_write_close(disk.a) != ARCHIVE_OK) archiveError(disk.a, "extracting into " + dir);
}

}  // namespace berth::bridge::archive
