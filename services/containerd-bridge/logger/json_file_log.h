// Docker's json-file log format, written the way kubelet and cri-dockerd read it: one JSON
// object per line ({"log": "...", "stream": "stdout", "time": "RFC 3339 nanoseconds"}), with
// size-based rotation (`max-size`, `max-file`) as dockerd's json-file driver does it.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "common/files.h"

namespace berth::logger {

class JsonFileLog {
 public:
  // maxSize 0: no rotation. maxFiles counts the live file: 3 keeps path, path.1, path.2.
  JsonFileLog(std::string path, uint64_t maxSize, unsigned maxFiles);

  // Appends one record. Thread-safe; rotates before a write that would pass maxSize. A record
  // that cannot be written (full disk, I/O error) is dropped and counted: false.
  bool write(std::string_view stream, std::string_view text, int64_t timeNano);
  // How many records were dropped so far.
  uint64_t dropped() const;

  // One line as dockerd writes it, newline included.
  static std::string format(std::string_view stream, std::string_view text, int64_t timeNano);

 private:
  bool open();
  void rotate();

  std::string path_;
  uint64_t maxSize_;
  unsigned maxFiles_;
  mutable std::mutex mutex_;
  UniqueFd fd_;
  uint64_t size_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace berth::logger
