#include "services/containerd-bridge/logger/json_file_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "common/time_format.h"

namespace berth::logger {

JsonFileLog::JsonFileLog(std::string path, uint64_t maxSize, unsigned maxFiles)
    : path_(std::move(path)), maxSize_(maxSize), maxFiles_(maxFiles < 1 ? 1 : maxFiles) {
  if (!open()) throwSystemError("open", path_);
}

bool JsonFileLog::open() {
  fd_ = UniqueFd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd_) return false;
  struct stat st {};
  ::fstat(fd_.get(), &st);
  size_ = static_cast<uint64_t>(st.st_size);
  return true;
}

void JsonFileLog::rotate() {
  fd_.reset();
  if (maxFiles_ == 1) {
    ::truncate(path_.c_str(), 0);
  } else {
    for (unsigned i = maxFiles_ - 1; i >= 1; --i) {
      std::string from = i == 1 ? path_ : path_ + "." + std::to_string(i - 1);
      std::string to = path_ + "." + std::to_string(i);
      ::rename(from.c_str(), to.c_str());  // a missing older file is fine
    }
  }
  open();  // a failure (no inode left) drops records until a later write can open it
}

std::string JsonFileLog::format(std::string_view stream, std::string_view text, int64_t timeNano) {
  nlohmann::json j = {{"log", std::string(text)}, {"stream", std::string(stream)}, {"time", rfc3339Nano(timeNano)}};
  // Output that is not UTF-8 is kept readable rather than refused.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

bool JsonFileLog::write(std::string_view stream, std::string_view text, int64_t timeNano) {
  std::string line = format(stream, text, timeNano);
  std::lock_guard lock(mutex_);
  if (maxSize_ > 0 && size_ > 0 && size_ + line.size() > maxSize_) rotate();
  // A full disk (ENOSPC), a quota or an I/O error drops this record and is counted, as
  // dockerd's json-file logger drops what it cannot write: the container keeps running and its
  // output keeps being read (a logger that died would leave it writing into a closed pipe).
  if (!fd_ && !open()) {
    ++dropped_;
    return false;
  }
  size_t off = 0;
  while (off < line.size()) {
    ssize_t w = ::write(fd_.get(), line.data() + off, line.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      // Half a record would make the file unreadable from there on: cut it off again.
      if (off > 0 && ::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0) fd_.reset();
      ++dropped_;
      return false;
    }
    off += static_cast<size_t>(w);
  }
  size_ += line.size();
  return true;
}

uint64_t JsonFileLog::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace berth::logger
