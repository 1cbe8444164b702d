#include "services/containerd-bridge/log_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/json_text.h"
#include "common/time_format.h"

namespace berth::bridge {
namespace {

void parseLines(std::string& buffer, std::vector<LogEntry>& out) {
  size_t start = 0;
  for (;;) {
    size_t nl = buffer.find('\n', start);
    if (nl == std::string::npos) break;
    auto j = parseJsonOrDiscarded(std::string_view(buffer).substr(start, nl - start));
    start = nl + 1;
    if (!j.is_object() || !j.contains("log")) continue;  // a torn or foreign line
    out.push_back({j.value("stream", "stdout"), j.value("log", ""), parseRfc3339Nanos(j.value("time", ""))});
  }
  buffer.erase(0, start);
}

void readFd(int fd, std::string& buffer) {
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

JsonLogReader::JsonLogReader(std::string path) : path_(std::move(path)) {}

JsonLogReader::~JsonLogReader() {
  if (fd_ >= 0) ::close(fd_);
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

std::vector<LogEntry> JsonLogReader::readAll() {
  std::vector<LogEntry> out;
  int last = 0;
  while (::access((path_ + "." + std::to_string(last + 1)).c_str(), F_OK) == 0) ++last;
  for (int i = last; i >= 1; --i) {
    auto text = readFileIfExists(path_ + "." + std::to_string(i));
    if (!text) continue;
    std::string buffer = *text;
    parseLines(buffer, out);
  }
  if (openLive()) drain(out);
  return out;
}

void JsonLogReader::seekEnd() {
  // berth-logger writes each record with one write(), so the end is a record boundary.
  if (openLive()) ::lseek(fd_, 0, SEEK_END);
}

void JsonLogReader::drain(std::vector<LogEntry>& out) {
  readFd(fd_, partial_);
  parseLines(partial_, out);
}

std::vector<LogEntry> JsonLogReader::readNew() {
  std::vector<LogEntry> out;
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
