// File helpers with the durability rules every berth store follows: writes are atomic (temp
// file, fsync, rename, fsync of the directory), and every failure names the call and the path.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace berth {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Creates `path` and its missing parents with `mode`; an existing directory keeps its mode
// unless `enforceMode` is set.
void makeDirectories(const std::string& path, mode_t mode, bool enforceMode = false);

// Replaces `path` with `content` atomically and durably.
void writeFileAtomic(const std::string& path, std::string_view content, mode_t mode = 0644);
// Replaces `path` with `content` atomically (a reader sees the old file or the new one) but not
// durably: for files that are derived from durable state and written again when lost.
void writeFileReplacing(const std::string& path, std::string_view content, mode_t mode = 0644);
// Creates `path`, which must not exist, with `content`, durably (the file and its directory
// fsynced), without a temp file: for a file in a staging directory that readers see only once
// the directory is renamed into place, so that rename already makes it appear whole. Without the
// file's own rename, ext4 commits the directory's entries with the file's fsync and the
// directory's fsync finds nothing left to write: one journal commit instead of two.
void writeNewFileDurably(const std::string& path, std::string_view content, mode_t mode = 0644);

// Reads a whole file; nullopt when it does not exist.
std::optional<std::string> readFileIfExists(const std::string& path);
std::string readFile(const std::string& path);

// Removes `path` and everything below it; a missing path is not an error. Does not follow
// symlinks and does not cross into other mounts.
void removeAll(const std::string& path);

std::string joinPath(std::string_view a, std::string_view b);

// The first executable `program` in the directories of $PATH, or of `defaultPath` when PATH is
// unset (empty entries are skipped); nullopt when there is none.
std::optional<std::string> findInPath(std::string_view program,
                                      std::string_view defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");

// True when something is mounted on `path` (an exact entry of /proc/self/mountinfo).
bool mountedAt(const std::string& path);

// Removes a directory tree when it goes out of scope (staging areas); failures are only logged.
struct ScopedRemove {
  std::string path;
  ~ScopedRemove();
};

}  // namespace berth
