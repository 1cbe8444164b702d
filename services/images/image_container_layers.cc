// ImageStore's container side: the writable layer each container gets over its image (an
// overlay mount handed to containerd), and what can be read back from it — the changes
// (docker diff), the merged filesystem (docker export) and a new image (docker commit).
// Merging is done by walking the layer directories with overlay's rules (whiteouts, opaque
// directories), so export and commit need no mount and work while the container runs.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/errors.h"
#include "common/dockerfile/changes.h"
#include "common/files.h"
#include "services/images/image_store.h"
#include "services/images/layer_extractor.h"
#include "common/image_reference.h"
#include "services/images/tar_out.h"
#include "common/json_text.h"

namespace berth::images {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string hexOf(const std::string& digest) { return digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : digest; }

// The overlay features that would make the upper directory say something other than what the
// merge below reads, turned off on every container layer whatever the kernel's defaults (set by
// a distribution's configuration or in /sys/module/overlay/parameters): redirect_dir (a renamed
// lower directory becomes an upper directory naming its origin in trusted.overlay.redirect),
// metacopy (a chmod or chown of a lower file copies up its metadata alone, the data left below)
// and index (a lower file with hard links, once copied up, shows its new content under every
// name through the work directory's index, while the upper directory holds only the name it was
// changed by). With them off the kernel answers a rename of a lower directory with EXDEV, which
// mv and other tools meet by copying, as on kernels without the features. An option goes only
// to a kernel that knows it: one that has the module parameter, or, while the module is not
// loaded yet, one whose version brought it (4.10, 4.19 and 4.13), since an unknown option fails
// the mount. The options are kept with the container's record when it is created, so a
// container created before berth passed them keeps its mount as it was.
std::vector<std::string> overlayFeaturesOff() {
  static const std::pair<int, int> release = [] {
    utsname u{};
    int major = 0, minor = 0;
    if (::uname(&u) == 0) std::sscanf(u.release, "%d.%d", &major, &minor);
    return std::pair{major, minor};
  }();
  struct Feature {
    const char* name;
    std::pair<int, int> since;
  };
  std::vector<std::string> off;
  for (const Feature& f : {Feature{"redirect_dir", {4, 10}}, Feature{"metacopy", {4, 19}}, Feature{"index", {4, 13}}}) {
    if (release >= f.since || ::access(("/sys/module/overlay/parameters/" + std::string(f.name)).c_str(), F_OK) == 0) {
      off.push_back(std::string(f.name) + "=off");
    }
  }
  return off;
}

bool isWhiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

bool isOpaque(const std::string& path) {
  char v = 0;
  return ::lgetxattr(path.c_str(), "trusted.overlay.opaque", &v, 1) == 1 && v == 'y';
}

// Walks `dir` in pre-order, calling fn(relative path with a leading '/', full path, stat);
// fn returns false to skip a directory's contents. The walk holds each directory open and
// enters a subdirectory with openat(O_NOFOLLOW) from its parent's descriptor: a running
// container that swaps a directory for a symlink (to /etc, say) cannot lead it out of the
// layer; the swapped entry is skipped.
template <typename Fn>
void walkAt(int dirFd, const std::string& full, const std::string& rel, Fn& fn, int depth) {
  if (depth > 4096) throw Error(ErrorKind::internal, "walking " + full + ": deeper than 4096 levels");
  DIR* d = ::fdopendir(dirFd);
  if (!d) {
    ::close(dirFd);
    throwSystemError("opendir", full);
  }
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    struct stat st {};
    if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    std::string childRel = rel + "/" + name;
    if (!fn(childRel, full + "/" + name, st) || !S_ISDIR(st.st_mode)) continue;
    int child = ::openat(::dirfd(d), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) continue;  // replaced by something else (a symlink) since it was listed
    walkAt(child, full + "/" + name, childRel, fn, depth + 1);
  }
  ::closedir(d);
}

template <typename Fn>
void walk(const std::string& dir, Fn fn) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;
    throwSystemError("open", dir);
  }
  walkAt(fd, dir, "", fn, 0);
}

// Opens `rel` (leading '/') below the directory `rootFd` without following any symlink on the
// way, the last component included (a symlink itself is opened as O_PATH): what was a
// directory when the layer was walked and is a symlink now fails instead of leading to the
// host. -1 with errno when it cannot.
int openBeneath(int rootFd, const std::string& rel) {
  open_how how{};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  std::string path = rel.empty() || rel == "/" ? "." : rel.substr(1);
  return static_cast<int>(::syscall(SYS_openat2, rootFd, path.c_str(), &how, sizeof how));
}

// The file an O_PATH descriptor names, opened for reading (never a FIFO or a device: those
// are not read).
int reopenForReading(int pathFd, bool directory) {
  std::string proc = "/proc/self/fd/" + std::to_string(pathFd);
  return ::open(proc.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));  // a magic link: no O_NOFOLLOW
}

class TarWriter {
 public:
  // To a new file at `path`.
  explicit TarWriter(const std::string& path) : file_(createFile(path)), out_(file_.get(), path) { init(); }
  // To `fd` (the file `name`), telling `written` how far it is whole as TarOut does.
  TarWriter(int fd, const std::string& name, std::function<bool(uint64_t)> written)
      : out_(fd, name, std::move(written)) {
    init();
  }

  // Adds the file at `rel` below the layer directory `rootFd` under the name `name`, without
  // overlay's own xattrs. Everything is read through descriptors opened beneath the layer: a
  // file whose path was swapped for a symlink since the walk is left out (it changed under a
  // running container, as any file may), never read from the host.
  void addFile(const std::string& name, int rootFd, const std::string& rel) {
    UniqueFd path(openBeneath(rootFd, rel));
    if (!path) {
      if (errno == ENOENT || errno == ELOOP || errno == EXDEV || errno == ENOTDIR) return;
      throwSystemError("open", rel);
    }
    struct stat st {};
    if (::fstatat(path.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) throwSystemError("stat", rel);
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(), archive_entry_free);
    archive_entry_copy_stat(e.get(), &st);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_nlink(e.get(), 1);
    if (const char* u = archive_read_disk_uname(disk_.get(), st.st_uid)) archive_entry_copy_uname(e.get(), u);
    if (const char* g = archive_read_disk_gname(disk_.get(), st.st_gid)) archive_entry_copy_gname(e.get(), g);
    UniqueFd content;
    if (S_ISLNK(st.st_mode)) {
      std::string target(PATH_MAX, '\0');
      ssize_t n = ::readlinkat(path.get(), "", target.data(), target.size());
      if (n < 0) throwSystemError("readlink", rel);
      target.resize(static_cast<size_t>(n));
      archive_entry_copy_symlink(e.get(), target.c_str());
      archive_entry_set_size(e.get(), 0);
    } else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      content = UniqueFd(reopenForReading(path.get(), S_ISDIR(st.st_mode)));
      if (!content) throwSystemError("open", rel);
      copyXattrs(content.get(), e.get());
      if (!S_ISREG(st.st_mode)) {
        archive_entry_set_size(e.get(), 0);
        content.reset();
      }
    } else {
      archive_entry_set_size(e.get(), 0);  // devices, FIFOs, sockets: a header only
    }
    write(e.get(), content.get(), rel);
  }

  // An empty regular file entry (whiteout markers).
  void addMarker(const std::string& name) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0);
    archive_entry_set_size(e.get(), 0);
    write(e.get(), -1, name);
  }

  void close() { out_.close(); }

 private:
  static UniqueFd createFile(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
    if (!fd) throwSystemError("open", path);
    return fd;
  }
  void init() {
    if (!disk_) throw Error(ErrorKind::internal, "archive_read_disk_new: out of memory");
    archive_read_disk_set_standard_lookup(disk_.get());  // owner names, as dockerd's archives carry them
  }

  // The file's extended attributes but overlay's own (trusted.overlay.*).
  static void copyXattrs(int fd, archive_entry* e) {
    ssize_t size = ::flistxattr(fd, nullptr, 0);
    if (size <= 0) return;
    std::string names(static_cast<size_t>(size), '\0');
    size = ::flistxattr(fd, names.data(), names.size());
    if (size <= 0) return;
    names.resize(static_cast<size_t>(size));
    for (size_t at = 0; at < names.size();) {
      std::string key = names.c_str() + at;
      at += key.size() + 1;
      if (key.empty() || key.rfind("trusted.overlay.", 0) == 0) continue;
      ssize_t n = ::fgetxattr(fd, key.c_str(), nullptr, 0);
      if (n < 0) continue;
      std::string value(static_cast<size_t>(n), '\0');
      n = ::fgetxattr(fd, key.c_str(), value.data(), value.size());
      if (n < 0) continue;
      archive_entry_xattr_add_entry(e, key.c_str(), value.data(), static_cast<size_t>(n));
    }
  }

  void write(archive_entry* e, int contentFd, const std::string& what) {
    if (archive_write_header(out_.get(), e) < ARCHIVE_WARN) out_.fail();
    if (contentFd < 0) return;
    // The header promised the size fstat gave; a file that grows or shrinks meanwhile gets
    // exactly that many bytes (libarchive pads a short one), so the archive stays whole.
    int64_t left = archive_entry_size(e);
    std::vector<char> buf(1 << 20);
    while (left > 0) {
      ssize_t n = ::read(contentFd, buf.data(), static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(buf.size()))));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throwSystemError("read", what);
      if (n == 0) break;
      out_.data(buf.data(), static_cast<size_t>(n));
      left -= n;
    }
  }

  UniqueFd file_;  // when it writes to a file of its own
  TarOut out_;
  std::unique_ptr<archive, decltype(&archive_read_free)> disk_{archive_read_disk_new(), archive_read_free};
};

// Writes the merged filesystem's entries below `rel` ("" the root) to `tar`, each directory's
// entries sorted by name and a directory before what it holds, with overlay's rules: a name
// shows its topmost layer's entry; a whiteout hides the name in the layers below; what a
// directory holds comes from each layer, top down, that has a directory there, down to the
// first that marks it opaque; any other entry (a file, a link, a whiteout) hides the layers
// below it. `candidates` are the layers (indexes into `roots`, 0 the top) that may show this
// directory's contents, top first: those that showed its parent's, from the layer of its own
// entry down. Entries are written as they are found, so the archive's first bytes leave before
// the walk ends. Each layer's directory is opened once, beneath the layer's root without
// following a symlink (openBeneath, as TarWriter opens each entry: one a running container
// swaps for a symlink is not followed), and what is checked of it (a directory, opaque) is what
// is listed. Only the roots stay open, however deep the walk goes.
void writeMerged(const std::vector<size_t>& candidates, const std::string& rel, const std::vector<UniqueFd>& roots,
                 TarWriter& tar, int depth) {
  if (depth > 4096) throw Error(ErrorKind::internal, "exporting " + rel + ": deeper than 4096 levels");
  struct Shown {
    size_t layer;
    bool whiteout, directory;
  };
  std::map<std::string, Shown> names;  // each name's topmost entry
  std::vector<size_t> shows;           // the layers whose directory was listed
  for (size_t layer : candidates) {
    UniqueFd at(openBeneath(roots[layer].get(), rel));
    if (!at) {
      if (errno == ENOENT) continue;                                         // not in this layer
      if (errno == ELOOP || errno == ENOTDIR || errno == EXDEV) break;       // a symlink on the way hides the rest
      throwSystemError("open", rel);
    }
    struct stat st {};
    if (::fstatat(at.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) throwSystemError("stat", rel);
    if (!S_ISDIR(st.st_mode)) break;  // a file, a link or a whiteout hides the layers below
    int listing = reopenForReading(at.get(), true);
    if (listing < 0) throwSystemError("open", rel);
    struct CloseDir {
      void operator()(DIR* d) const { ::closedir(d); }
    };
    std::unique_ptr<DIR, CloseDir> entries(::fdopendir(listing));
    if (!entries) {
      ::close(listing);
      throwSystemError("opendir", rel);
    }
    char opaque = 0;
    bool last = ::fgetxattr(listing, "trusted.overlay.opaque", &opaque, 1) == 1 && opaque == 'y';
    shows.push_back(layer);
    while (auto* e = ::readdir(entries.get())) {
      std::string name = e->d_name;
      if (name == "." || name == ".." || names.count(name)) continue;
      struct stat child {};
      if (::fstatat(listing, name.c_str(), &child, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
      names.emplace(name, Shown{layer, isWhiteout(child), S_ISDIR(child.st_mode)});
    }
    if (last) break;
  }
  for (const auto& [name, shown] : names) {
    if (shown.whiteout) continue;
    std::string childRel = rel + "/" + name;
    tar.addFile(childRel.substr(1), roots[shown.layer].get(), childRel);
    if (!shown.directory) continue;
    std::vector<size_t> below;
    for (size_t layer : shows) {
      if (layer >= shown.layer) below.push_back(layer);
    }
    writeMerged(below, childRel, roots, tar, depth + 1);
  }
}

}  // namespace

std::string ImageStore::containerDir(const std::string& container) const {
  if (container.size() < 12 || container.size() > 64 || container.find_first_not_of("0123456789abcdef") != std::string::npos) {
    throw Error(ErrorKind::invalid, "invalid container id: " + container);
  }
  return root_ + "/rw/" + container;
}

std::vector<std::string> ImageStore::imageLayerDirsLocked(const std::string& imageId) const {
  std::vector<std::string> dirs;
  for (const auto& c : images_.at(imageId).chainIds) dirs.push_back(root_ + "/layers/" + hexOf(c) + "/diff");
  return dirs;
}

std::vector<ImageStore::Mount> ImageStore::prepareContainerLayer(const std::string& container,
                                                                 const std::string& imageRef, std::string& imageId) {
  std::string dir = containerDir(container);
  std::lock_guard lock(mutex_);
  imageId = resolveLocked(imageRef);
  if (auto it = containerImages_.find(container); it != containerImages_.end() && it->second != imageId) {
    throw Error(ErrorKind::conflict, "container " + container + " already has a layer over image " + it->second);
  }
  if (releasedWhileExported_.count(container)) {
    throw Error(ErrorKind::conflict, "the layer of container " + container + " was released and goes when its export ends");
  }
  makeDirectories(dir + "/upper", 0755);
  makeDirectories(dir + "/work", 0700);
  writeFileAtomic(dir + "/image", imageId, 0600);
  containerImages_[container] = imageId;
  auto lower = imageLayerDirsLocked(imageId);
  if (lower.empty()) {
    makeDirectories(root_ + "/empty", 0755);
    lower.push_back(root_ + "/empty");
  }
  std::string lowerdir;
  for (auto it = lower.rbegin(); it != lower.rend(); ++it) lowerdir += (lowerdir.empty() ? "" : ":") + *it;
  std::vector<std::string> options = overlayFeaturesOff();
  options.insert(options.end(), {"lowerdir=" + lowerdir, "upperdir=" + dir + "/upper", "workdir=" + dir + "/work"});
  return {Mount{"overlay", "overlay", std::move(options)}};
}

void ImageStore::releaseContainerLayer(const std::string& container) {
  std::string dir = containerDir(container);
  std::lock_guard lock(mutex_);
  if (exports_.count(container)) {
    // An export still reads the layers: they go with its end (endExport), or at the next start
    // (the marker) if this process dies first.
    writeFileAtomic(dir + "/" + kReleasedMarker, "", 0600);
    releasedWhileExported_.insert(container);
    return;
  }
  removeAll(dir);
  containerImages_.erase(container);
}

ImageStore::ExportPlan ImageStore::planExport(const std::string& container) {
  std::string dir = containerDir(container);
  ExportPlan plan;
  std::lock_guard lock(mutex_);
  auto it = containerImages_.find(container);
  if (it == containerImages_.end() || releasedWhileExported_.count(container)) {
    throw Error(ErrorKind::notFound, "no layer for container " + container);
  }
  auto lower = imageLayerDirsLocked(it->second);
  plan.layers.push_back(dir + "/upper");
  plan.layers.insert(plan.layers.end(), lower.rbegin(), lower.rend());
  struct Hold {
    Hold(ImageStore* s, std::string c) : store(s), container(std::move(c)) {}
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    ~Hold() { store->endExport(container); }
    ImageStore* store;
    std::string container;
  };
  ++exports_[container];
  try {
    plan.hold = std::make_shared<Hold>(this, container);
  } catch (...) {
    if (--exports_[container] == 0) exports_.erase(container);
    throw;
  }
  return plan;
}

void ImageStore::endExport(const std::string& container) {
  std::lock_guard lock(mutex_);
  auto it = exports_.find(container);
  if (it == exports_.end() || --it->second > 0) return;
  exports_.erase(it);
  if (!releasedWhileExported_.count(container)) return;
  try {
    removeAll(containerDir(container));
  } catch (const std::exception& e) {
    // Still released (no new export, no new layer under the id); the next start removes it.
    spdlog::warn("images: removing the layer of {} after its export: {}", container, e.what());
    return;
  }
  releasedWhileExported_.erase(container);
  containerImages_.erase(container);
}

std::vector<ImageStore::Change> ImageStore::containerChanges(const std::string& container) const {
  std::string dir = containerDir(container);
  std::vector<std::string> lower;
  {
    std::lock_guard lock(mutex_);
    auto it = containerImages_.find(container);
    if (it == containerImages_.end()) throw Error(ErrorKind::notFound, "no layer for container " + container);
    lower = imageLayerDirsLocked(it->second);
  }
  auto inLower = [&](const std::string& rel) {
    for (auto it = lower.rbegin(); it != lower.rend(); ++it) {
      struct stat st {};
      if (::lstat((*it + rel).c_str(), &st) == 0) return !isWhiteout(st);
    }
    return false;
  };
  std::vector<Change> out;
  walk(dir + "/upper", [&](const std::string& rel, const std::string&, const struct stat& st) {
    if (isWhiteout(st)) out.push_back({2, rel});
    else out.push_back({inLower(rel) ? 0 : 1, rel});
    return true;
  });
  std::sort(out.begin(), out.end(), [](const Change& a, const Change& b) { return a.path < b.path; });
  return out;
}

std::optional<ImageStore::ContainerSize> ImageStore::layerSizeOf(const std::string& container) const {
  std::string image;
  {
    std::lock_guard lock(mutex_);
    auto it = containerImages_.find(container);
    if (it == containerImages_.end()) return std::nullopt;
    image = it->second;
  }
  ContainerSize size;
  walk(containerDir(container) + "/upper", [&](const std::string&, const std::string&, const struct stat& st) {
    if (S_ISREG(st.st_mode)) size.rw += st.st_size;
    return true;
  });
  size.rootFs = size.rw + get(image).size;
  return size;
}

ImageStore::ContainerSize ImageStore::containerSize(const std::string& container) const {
  auto size = layerSizeOf(container);
  if (!size) throw Error(ErrorKind::notFound, "no layer for container " + container);
  return *size;
}

std::map<std::string, ImageStore::ContainerSize> ImageStore::containerSizes(const std::vector<std::string>& containers) const {
  for (const auto& c : containers) containerDir(c);  // every id valid before any walk
  std::map<std::string, ContainerSize> sizes;
  for (const auto& c : containers) {
    if (auto size = layerSizeOf(c)) sizes[c] = *size;
  }
  return sizes;
}

void ImageStore::exportContainer(const std::string& container, const std::string& outPath) {
  auto plan = planExport(container);
  UniqueFd out(::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
  if (!out) throwSystemError("open", outPath);
  writeExport(plan, out.get(), outPath);
}

void ImageStore::writeExport(const ExportPlan& plan, int fd, const std::string& name,
                             const std::function<bool(uint64_t)>& written) const {
  std::vector<UniqueFd> roots;  // each layer's root: every entry is opened beneath it
  std::vector<size_t> all;
  for (size_t i = 0; i < plan.layers.size(); ++i) {
    const auto& layer = plan.layers[i];
    roots.emplace_back(::open(layer.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!roots.back()) throwSystemError("open", layer);
    all.push_back(i);
  }
  TarWriter tar(fd, name, written);
  writeMerged(all, "", roots, tar, 0);
  tar.close();
}

std::string ImageStore::commitContainer(const std::string& container, const json& requested, const std::string& reference,
                                        const std::string& message, const std::string& author,
                                        const std::vector<std::string>& changes) {
  json config = requested;
  dockerfile::applyChanges(config, changes);
  std::string dir = containerDir(container);
  std::string familiar = reference.empty() ? "" : parseReference(reference).familiar();
  std::string parentId, parentConfig;
  {
    std::lock_guard lock(mutex_);
    auto it = containerImages_.find(container);
    if (it == containerImages_.end()) throw Error(ErrorKind::notFound, "no layer for container " + container);
    parentId = it->second;
    parentConfig = images_.at(parentId).configJson;
  }
  std::string work = stagingPath("commit");
  ScopedRemove cleanup{work};
  makeDirectories(work + "/diff", 0755);
  // The writable layer as an image layer: overlay whiteouts become .wh. entries again.
  {
    TarWriter tar(work + "/layer-in.tar");
    std::string upper = dir + "/upper";
    UniqueFd upperFd(::open(upper.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!upperFd) throwSystemError("open", upper);
    walk(upper, [&](const std::string& rel, const std::string& full, const struct stat& st) {
      std::string name = rel.substr(1);
      if (isWhiteout(st)) {
        auto slash = name.rfind('/');
        std::string parent = slash == std::string::npos ? "" : name.substr(0, slash + 1);
        tar.addMarker(parent + ".wh." + name.substr(parent.size()));
        return true;
      }
      tar.addFile(name, upperFd.get(), rel);
      if (S_ISDIR(st.st_mode) && isOpaque(full)) tar.addMarker(name + "/.wh..wh..opq");
      return true;
    });
    tar.close();
  }
  auto x = extractLayer(work + "/layer-in.tar", work + "/diff", work + "/layer.tar");

  auto image = parseJson(parentConfig);
  auto diffIds = image["rootfs"]["diff_ids"].get<std::vector<std::string>>();
  std::vector<std::string> chains;
  std::string chain;
  for (const auto& d : diffIds) chains.push_back(chain = chainIdOf(chain, d));
  std::string parentChain = chain;
  chain = chainIdOf(chain, x.diffId);
  commitLayer(work + "/diff", work + "/layer.tar", LayerRecord{chain, x.diffId, parentChain, x.contentBytes, x.tarBytes});
  diffIds.push_back(x.diffId);
  chains.push_back(chain);

  time_t now = time(nullptr);
  tm utc{};
  gmtime_r(&now, &utc);
  char created[32];
  strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &utc);
  image["created"] = created;
  image["container"] = container;
  image["config"] = config.is_object() ? config : image.value("config", json::object());
  image["rootfs"]["diff_ids"] = diffIds;
  if (!author.empty()) image["author"] = author;
  if (!message.empty()) image["comment"] = message;
  auto history = image.value("history", json::array());
  json entry = {{"created", created}};
  if (!author.empty()) entry["author"] = author;
  if (!message.empty()) entry["comment"] = message;
  history.push_back(entry);
  image["history"] = history;
  std::string configText = image.dump();
  std::string id = "sha256:" + sha256Hex(configText);
  registerImage(id, configText, diffIds, chains, familiar.empty() ? std::vector<std::string>{} : std::vector<std::string>{familiar});
  if (!familiar.empty()) emit("tag", id, {{"name", familiar}});
  return id;
}

}  // namespace berth::images
