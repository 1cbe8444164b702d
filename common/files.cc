#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <atomic>
#include <filesystem>
#include <fstream>

#include "common/errors.h"

namespace berth {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

UniqueFd::~UniqueFd() { reset(); }

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string joinPath(std::string_view a, std::string_view b) {
  std::string out(a);
  if (!out.empty() && out.back() != '/') out += '/';
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  out += b;
  return out;
}

void makeDirectories(const std::string& path, mode_t mode, bool enforceMode) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), mode) != 0 && errno != EEXIST) throwSystemError("mkdir", partial);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throwSystemError("stat", path);
  if (!S_ISDIR(st.st_mode)) throw Error(ErrorKind::conflict, path + " exists and is not a directory");
  if (enforceMode && (st.st_mode & 07777) != mode && ::chmod(path.c_str(), mode) != 0) {
    throwSystemError("chmod", path);
  }
}

namespace {

// Writes all of `content` to `fd`; on failure unlinks `path` (the file being made) and throws.
void writeAllOrUnlink(int fd, const std::string& path, std::string_view content, mode_t mode, bool durable) {
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::unlink(path.c_str());
      throwSystemError("write", path, err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0 || (durable && ::fsync(fd) != 0)) {
    int err = errno;
    ::unlink(path.c_str());
    throwSystemError("fsync", path, err);
  }
}

void fsyncParent(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  UniqueFd dfd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) throwSystemError("open", dir);
  if (::fsync(dfd.get()) != 0) throwSystemError("fsync", dir);
}

void replaceFile(const std::string& path, std::string_view content, mode_t mode, bool durable) {
  // Unique per call: two threads writing the same file must not share a temp file.
  static std::atomic<uint64_t> counter{0};
  std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) throwSystemError("open", tmp);
  writeAllOrUnlink(fd.get(), tmp, content, mode, durable);
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throwSystemError("rename", path, err);
  }
  if (durable) fsyncParent(path);
}

}  // namespace

void writeFileAtomic(const std::string& path, std::string_view content, mode_t mode) {
  replaceFile(path, content, mode, true);
}

void writeFileReplacing(const std::string& path, std::string_view content, mode_t mode) {
  replaceFile(path, content, mode, false);
}

void writeNewFileDurably(const std::string& path, std::string_view content, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) throwSystemError("open", path);
  writeAllOrUnlink(fd.get(), path, content, mode, true);
  fd.reset();
  try {
    fsyncParent(path);
  } catch (const Error&) {
    ::unlink(path.c_str());  // not known durable: a retry makes it again
    throw;
  }
}

std::optional<std::string> readFileIfExists(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    throwSystemError("open", path);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throwSystemError("read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string readFile(const std::string& path) {
  auto content = readFileIfExists(path);
  if (!content) throw Error(ErrorKind::notFound, "open " + path + ": No such file or directory");
  return *content;
}

void removeAll(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    throw Error(ErrorKind::internal, "remove " + path + ": " + ec.message());
  }
}

ScopedRemove::~ScopedRemove() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::optional<std::string> findInPath(std::string_view program, std::string_view defaultPath) {
  const char* env = std::getenv("PATH");
  std::string_view dirs = env ? std::string_view(env) : defaultPath;
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string_view::npos) end = dirs.size();
    if (end > start) {
      std::string candidate = std::string(dirs.substr(start, end - start)) + "/" + std::string(program);
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

bool mountedAt(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::string needle = " " + path + " ";
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace berth
