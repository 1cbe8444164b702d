#include "services/images/layer_extractor.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <memory>
#include <vector>

#include "common/digest.h"
#include "common/errors.h"
#include "common/files.h"

namespace berth::images {
namespace {

constexpr size_t kChunk = 1 << 20;

[[noreturn]] void invalid(const std::string& what) { throw Error(ErrorKind::invalid, "invalid layer: " + what); }

// The decompressed byte stream libarchive reads: plain or gzip from a file, hashed on the way.
// A gzip stream's tar is copied to the tar file as it is inflated; a plain source already is
// that tar, so it becomes the tar file by a hard link once read (no second copy written).
class LayerStream {
 public:
  LayerStream(const std::string& source, const std::string& copyPath, const std::atomic<bool>* cancel)
      : source_(source), copyPath_(copyPath), cancel_(cancel) {
    in_ = UniqueFd(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in_) throwSystemError("open", source);
    raw_.resize(kChunk);
    fillRaw();
    gzip_ = rawLen_ >= 2 && static_cast<unsigned char>(raw_[0]) == 0x1f && static_cast<unsigned char>(raw_[1]) == 0x8b;
    if (gzip_) {
      out_.resize(kChunk);
      copy_ = UniqueFd(::open(copyPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      if (!copy_) throwSystemError("open", copyPath);
      std::memset(&z_, 0, sizeof z_);
      if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) invalid("cannot initialise gzip decoder");
      z_.next_in = reinterpret_cast<Bytef*>(raw_.data());
      z_.avail_in = static_cast<uInt>(rawLen_);
    }
  }
  ~LayerStream() {
    if (gzip_) inflateEnd(&z_);
  }

  // Next chunk of the uncompressed stream; empty at its end.
  std::string_view next() {
    if (cancel_ && cancel_->load()) throw Error(ErrorKind::conflict, "extraction of " + source_ + " cancelled");
    size_t n = 0;
    const char* data = raw_.data();
    if (!gzip_) {
      if (rawLen_ == 0) fillRaw();
      n = rawLen_;
      rawLen_ = 0;
    } else {
      while (n == 0 && !ended_) {
        if (z_.avail_in == 0) {
          fillRaw();
          if (rawLen_ == 0) invalid("gzip stream of " + source_ + " is truncated");
          z_.next_in = reinterpret_cast<Bytef*>(raw_.data());
          z_.avail_in = static_cast<uInt>(rawLen_);
        }
        z_.next_out = reinterpret_cast<Bytef*>(out_.data());
        z_.avail_out = static_cast<uInt>(out_.size());
        int rc = inflate(&z_, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
          ended_ = true;
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
          invalid("corrupt gzip data (" + std::string(z_.msg ? z_.msg : "inflate failed") + ")");
        }
        n = out_.size() - z_.avail_out;
      }
      data = out_.data();
    }
    if (n > 0) {
      hash_.update(data, n);
      size_t off = 0;
      while (copy_ && off < n) {
        ssize_t w = ::write(copy_.get(), data + off, n - off);
        if (w < 0) {
          if (errno == EINTR) continue;
          throwSystemError("write", "layer copy");
        }
        off += static_cast<size_t>(w);
      }
      total_ += n;
    }
    return {data, n};
  }

  void drain() {
    while (!next().empty()) {
    }
  }

  std::string finish(uint64_t& total) {
    if (copy_) {
      if (::fsync(copy_.get()) != 0) throwSystemError("fsync", "layer copy");
    } else {
      // The source was read to its end, so it is exactly the hashed tar.
      if (::fsync(in_.get()) != 0) throwSystemError("fsync", source_);
      ::unlink(copyPath_.c_str());
      if (::link(source_.c_str(), copyPath_.c_str()) != 0) throwSystemError("link", copyPath_);
    }
    total = total_;
    return hash_.digest();
  }

 private:
  void fillRaw() {
    for (;;) {
      ssize_t r = ::read(in_.get(), raw_.data(), raw_.size());
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throwSystemError("read", source_);
      rawLen_ = static_cast<size_t>(r);
      return;
    }
  }

  std::string source_, copyPath_;
  const std::atomic<bool>* cancel_;
  UniqueFd in_, copy_;
  Sha256 hash_;
  std::vector<char> raw_, out_;
  size_t rawLen_ = 0;
  bool gzip_ = false;
  bool ended_ = false;
  z_stream z_{};
  uint64_t total_ = 0;
};

la_ssize_t readCallback(archive* a, void* data, const void** buffer) {
  try {
    auto chunk = static_cast<LayerStream*>(data)->next();
    *buffer = chunk.data();
    return static_cast<la_ssize_t>(chunk.size());
  } catch (const std::exception& e) {
    archive_set_error(a, EINVAL, "%s", e.what());
    return -1;
  }
}

// Refuses a path whose existing parent components include a symlink (below `root`).
void requireNoSymlinkParents(const std::string& root, const std::string& clean) {
  std::string path = root;
  size_t start = 0;
  for (;;) {
    size_t slash = clean.find('/', start);
    if (slash == std::string::npos) return;
    path += "/" + clean.substr(start, slash - start);
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      invalid("entry " + clean + " passes through the symlink " + clean.substr(0, slash));
    }
    start = slash + 1;
  }
}

void makeParents(const std::string& root, const std::string& clean) {
  auto slash = clean.rfind('/');
  if (slash == std::string::npos) return;
  requireNoSymlinkParents(root, clean);
  makeDirectories(root + "/" + clean.substr(0, slash), 0755);
}

}  // namespace

std::string cleanEntryName(const std::string& name) {
  if (!name.empty() && name.front() == '/') invalid("entry " + name + " has an absolute path");
  std::string out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    std::string part = name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part == "..") invalid("entry " + name + " climbs out of the layer");
    if (!part.empty() && part != ".") out += (out.empty() ? "" : "/") + part;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

ExtractedLayer extractLayer(const std::string& sourcePath, const std::string& targetDir,
                            const std::string& tarCopyPath, const std::atomic<bool>* cancel) {
  LayerStream stream(sourcePath, tarCopyPath, cancel);
  std::unique_ptr<archive, decltype(&archive_read_free)> in(archive_read_new(), archive_read_free);
  archive_read_support_format_tar(in.get());
  archive_read_support_format_gnutar(in.get());
  if (archive_read_open(in.get(), &stream, nullptr, readCallback, nullptr) != ARCHIVE_OK) {
    invalid(archive_error_string(in.get()) ? archive_error_string(in.get()) : "unreadable tar stream");
  }
  std::unique_ptr<archive, decltype(&archive_write_free)> out(archive_write_disk_new(), archive_write_free);
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SPARSE |
                                                ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  // No user/group name lookup: owners are the tar's numeric ids, as dockerd extracts them. A
  // name resolved through the host's NSS ("uid 1000, uname root") would give a layer's file to
  // whoever that name is on the host, setuid bits included.

  ExtractedLayer result;
  archive_entry* entry = nullptr;
  for (;;) {
    int rc = archive_read_next_header(in.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      invalid(std::string("unreadable tar stream: ") + (archive_error_string(in.get()) ?: "?"));
    }
    const char* rawName = archive_entry_pathname(entry);
    std::string clean = cleanEntryName(rawName ? rawName : "");
    if (clean.empty()) continue;  // the layer's root itself

    std::string base = clean.substr(clean.rfind('/') == std::string::npos ? 0 : clean.rfind('/') + 1);
    std::string dir = clean.size() > base.size() ? clean.substr(0, clean.size() - base.size() - 1) : "";
    if (base.rfind(".wh.", 0) == 0) {
      makeParents(targetDir, clean);
      std::string parent = dir.empty() ? targetDir : targetDir + "/" + dir;
      if (base == ".wh..wh..opq") {
        if (::lsetxattr(parent.c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0) throwSystemError("setxattr", parent);
      } else {
        std::string target = base.substr(4);
        if (target.empty() || target == "." || target == "..") invalid("whiteout " + clean + " names nothing");
        std::string hidden = parent + "/" + target;
        removeAll(hidden);
        if (::mknod(hidden.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) throwSystemError("mknod", hidden);
      }
      continue;
    }
    auto type = archive_entry_filetype(entry);
    if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO || type == AE_IFSOCK) continue;
    requireNoSymlinkParents(targetDir, clean);
    if (const char* link = archive_entry_hardlink(entry)) {
      std::string target = cleanEntryName(link);
      if (target.empty()) invalid("hard link " + clean + " points at the layer's root");
      requireNoSymlinkParents(targetDir, target);
      struct stat st {};
      std::string targetPath = targetDir + "/" + target;
      if (::lstat(targetPath.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) {
        invalid("hard link " + clean + " points at " + target + ", which is not a file in this layer");
      }
      archive_entry_set_hardlink(entry, targetPath.c_str());
    }
    // Keep xattrs except those that steer overlayfs.
    std::vector<std::tuple<std::string, std::string>> keep;
    archive_entry_xattr_reset(entry);
    const char* xname;
    const void* xvalue;
    size_t xsize;
    while (archive_entry_xattr_next(entry, &xname, &xvalue, &xsize) == ARCHIVE_OK) {
      if (std::string_view(xname).rfind("trusted.overlay.", 0) != 0) {
        keep.emplace_back(xname, std::string(static_cast<const char*>(xvalue), xsize));
      }
    }
    archive_entry_xattr_clear(entry);
    for (const auto& [k, v] : keep) archive_entry_xattr_add_entry(entry, k.c_str(), v.data(), v.size());

    if (type == AE_IFREG && !archive_entry_hardlink(entry)) result.contentBytes += archive_entry_size(entry);
    archive_entry_set_pathname(entry, (targetDir + "/" + clean).c_str());
    rc = archive_write_header(out.get(), entry);
    if (rc < ARCHIVE_WARN) invalid("entry " + clean + ": " + (archive_error_string(out.get()) ?: "cannot extract"));
    if (archive_entry_size(entry) > 0 && rc >= ARCHIVE_WARN) {
      const void* buf;
      size_t size;
      la_int64_t offset;
      for (;;) {
        int r = archive_read_data_block(in.get(), &buf, &size, &offset);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) invalid("entry " + clean + ": " + (archive_error_string(in.get()) ?: "truncated"));
        if (archive_write_data_block(out.get(), buf, size, offset) < ARCHIVE_WARN) {
          invalid("entry " + clean + ": " + (archive_error_string(out.get()) ?: "write failed"));
        }
      }
    }
    if (archive_write_finish_entry(out.get()) < ARCHIVE_WARN) {
      invalid("entry " + clean + ": " + (archive_error_string(out.get()) ?: "cannot finish"));
    }
  }
  if (archive_write_close(out.get()) < ARCHIVE_WARN) {
    invalid(std::string("finishing extraction: ") + (archive_error_string(out.get()) ?: "?"));
  }
  stream.drain();  // the tar's end padding belongs to the diff ID too
  result.diffId = stream.finish(result.tarBytes);
  return result;
}

}  // namespace berth::images
