#include "services/containerd-bridge/log_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "common/files.h"
#include "common/json_text.h"
#include "common/time_format.h"

namespace berth::bridge {
namespace {

constexpr size_t kBlock = 64 * 1024;

// One json-file line as an entry; nullopt for a torn or foreign line.
std::optional<LogEntry> parseLine(std::string_view line) {
  auto j = parseJsonOrDiscarded(line);
  if (!j.is_object() || !j.contains("log")) return std::nullopt;
  return LogEntry{j.value("stream", "stdout"), j.value("log", ""), parseRfc3339Nanos(j.value("time", "")), {}};
}

// Calls `fn` for each complete line in `buffer` (with the offset in `buffer` just past the
// line) and keeps the incomplete rest; false once `fn` said stop. A torn or foreign line is
// passed over.
bool parseLines(std::string& buffer, const std::function<bool(LogEntry&, size_t end)>& fn) {
  size_t start = 0;
  bool more = true;
  while (more) {
    size_t nl = buffer.find('\n', start);
    if (nl == std::string::npos) break;
    auto e = parseLine(std::string_view(buffer).substr(start, nl - start));
    start = nl + 1;
    if (e) more = fn(*e, start);
  }
  buffer.erase(0, start);
  return more;
}

ino_t inodeOf(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

// Where the last `lines` complete lines of a file begin, reading it backwards a block at a
// time: {offset, lines found}. A file with fewer lines gives offset 0 and how many it has.
std::pair<off_t, int64_t> tailStart(int fd, int64_t lines) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return {0, 0};
  off_t end = st.st_size;
  std::string block(kBlock, '\0');
  int64_t found = 0;
  bool skippedPartial = false;  // bytes after the last newline are a line still being written
  for (off_t pos = end; pos > 0;) {
    off_t from = pos > static_cast<off_t>(kBlock) ? pos - static_cast<off_t>(kBlock) : 0;
    ssize_t n = ::pread(fd, block.data(), static_cast<size_t>(pos - from), from);
    if (n <= 0) break;
    for (ssize_t i = n - 1; i >= 0; --i) {
      if (block[static_cast<size_t>(i)] != '\n') continue;
      if (!skippedPartial) {
        skippedPartial = true;
        continue;
      }
      if (++found == lines) return {from + i + 1, found};
    }
    pos = from;
  }
  // Reached the start: every complete line counts, the first one included.
  if (skippedPartial) ++found;
  return {0, found};
}

}  // namespace

JsonLogReader::JsonLogReader(std::string path) : path_(std::move(path)) {}

JsonLogReader::~JsonLogReader() {
  if (fd_ >= 0) ::close(fd_);
  for (int fd : pending_) ::close(fd);
}

bool JsonLogReader::openLive() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  partial_.clear();
  if (fd_ < 0) return false;
  struct stat st {};
  ::fstat(fd_, &st);
  inode_ = st.st_ino;
  return true;
}

bool JsonLogReader::stream(int fd, std::string& partial, const std::function<bool(const LogEntry&)>& fn) {
  uint64_t file = inodeOf(fd);
  char buf[kBlock];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    partial.append(buf, static_cast<size_t>(n));
    // The file offset of the buffer's first byte: what was read, less what is still held.
    int64_t base = static_cast<int64_t>(::lseek(fd, 0, SEEK_CUR)) - static_cast<int64_t>(partial.size());
    bool more = parseLines(partial, [&](LogEntry& e, size_t end) {
      position_ = {file, base + static_cast<int64_t>(end)};
      e.end = position_;
      return fn(e);
    });
    if (!more) return false;
  }
}

void JsonLogReader::forEach(int64_t tail, const std::function<bool(const LogEntry&)>& fn) {
  int last = 0;
  while (::access((path_ + "." + std::to_string(last + 1)).c_str(), F_OK) == 0) ++last;
  bool live = openLive();
  // Where to begin: the oldest rotated file's start, or the tail-th last line, newest first.
  int firstFile = last;  // index of the first file to read; 0 is the live file
  off_t firstOffset = 0;
  if (tail >= 0) {
    int64_t wanted = tail;
    if (!live) return;
    firstFile = 0;
    // A tail of 0 starts at the live file's end (its last complete line).
    struct stat st {};
    ::fstat(fd_, &st);
    firstOffset = st.st_size;
    for (int i = 0; i <= last && wanted > 0; ++i) {
      int fd = i == 0 ? fd_ : ::open((path_ + "." + std::to_string(i)).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      auto [offset, found] = tailStart(fd, wanted);
      if (i != 0) ::close(fd);
      firstFile = i;
      firstOffset = offset;
      wanted -= found;
    }
  }
  bool more = true;
  for (int i = firstFile; i >= 1 && more; --i) {
    int fd = ::open((path_ + "." + std::to_string(i)).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (i == firstFile && firstOffset > 0) ::lseek(fd, firstOffset, SEEK_SET);
    std::string partial;
    more = stream(fd, partial, fn);
    ::close(fd);
  }
  if (!live) return;
  ::lseek(fd_, firstFile == 0 ? firstOffset : 0, SEEK_SET);
  if (more) {
    stream(fd_, partial_, fn);
  } else {
    ::lseek(fd_, 0, SEEK_END);  // the caller stopped: later reads follow from the end
    partial_.clear();
  }
}

void JsonLogReader::seekEnd() {
  // berth-logger writes each record with one write(), so the end is a record boundary.
  position_ = {};
  if (openLive()) position_ = {static_cast<uint64_t>(inode_), static_cast<int64_t>(::lseek(fd_, 0, SEEK_END))};
}

bool JsonLogReader::seek(LogPosition from) {
  // The live file first: a rotation after it was opened shows as a rotated file with its
  // inode, which is skipped (readNew finds the rotation and reads on).
  int live = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  ino_t liveInode = live >= 0 ? inodeOf(live) : 0;
  std::vector<int> rotated;  // newest first, up to and with `from`'s file
  bool found = from.file == 0 || (live >= 0 && liveInode == from.file);
  for (int i = 1; !found || from.file == 0; ++i) {
    int fd = ::open((path_ + "." + std::to_string(i)).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    ino_t inode = inodeOf(fd);
    if (inode == liveInode) {
      ::close(fd);
      continue;
    }
    rotated.push_back(fd);
    if (inode == from.file) found = true;
  }
  if (!found) {
    for (int fd : rotated) ::close(fd);
    if (live >= 0) ::close(live);
    return false;
  }
  for (int fd : pending_) ::close(fd);
  pending_.assign(rotated.rbegin(), rotated.rend());
  if (fd_ >= 0) ::close(fd_);
  fd_ = live;
  inode_ = liveInode;
  partial_.clear();
  position_ = from;
  int first = pending_.empty() ? fd_ : pending_.front();
  if (from.file != 0 && first >= 0) ::lseek(first, from.offset, SEEK_SET);
  return true;
}

void JsonLogReader::drain(std::vector<LogEntry>& out) {
  stream(fd_, partial_, [&](const LogEntry& e) {
    out.push_back(e);
    return true;
  });
}

std::vector<LogEntry> JsonLogReader::readNew() {
  std::vector<LogEntry> out;
  while (!pending_.empty()) {  // rotated files a seek() began in, oldest first
    std::string partial;
    stream(pending_.front(), partial, [&](const LogEntry& e) {
      out.push_back(e);
      return true;
    });
    ::close(pending_.front());
    pending_.erase(pending_.begin());
  }
  if (fd_ < 0) {
    if (openLive()) drain(out);
    return out;
  }
  drain(out);
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && st.st_ino != inode_) {
    // Rotated: the old file is complete once renamed; read its rest, then the new one.
    drain(out);
    if (openLive()) drain(out);
  }
  return out;
}

std::unique_ptr<JsonLogReader> readerAt(const std::vector<std::string>& paths, LogPosition from) {
  std::unique_ptr<JsonLogReader> partial;
  for (const auto& path : paths) {
    auto reader = std::make_unique<JsonLogReader>(path);
    if (!reader->seek(from)) continue;
    if (reader->hasLiveFile()) return reader;
    if (!partial) partial = std::move(reader);
  }
  return partial;
}

bool readUntilQuiet(JsonLogReader& reader, const std::function<bool(const std::vector<LogEntry>&)>& emit,
                    std::chrono::milliseconds quiet, std::chrono::milliseconds limit) {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now(), lastNew = start;
  for (;;) {
    auto entries = reader.readNew();
    auto now = Clock::now();
    if (!entries.empty()) {
      lastNew = now;
      if (!emit(entries)) return false;
    }
    if (now - lastNew >= quiet || now - start >= limit) return true;
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(quiet / 4, std::chrono::milliseconds(50)));
  }
}

std::string frameStream(int stream, const std::string& payload) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(stream);
  uint32_t n = static_cast<uint32_t>(payload.size());
  out[4] = static_cast<char>((n >> 24) & 0xff);
  out[5] = static_cast<char>((n >> 16) & 0xff);
  out[6] = static_cast<char>((n >> 8) & 0xff);
  out[7] = static_cast<char>(n & 0xff);
  return out + payload;
}

}  // namespace berth::bridge
