// Reads a container's json-file log (the live file and its rotated predecessors) for docker
// logs and attach, and follows it as berth-logger appends and rotates it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace berth::bridge {

struct LogEntry {
  std::string stream;  // "stdout" or "stderr"
  std::string text;
  int64_t timeNanos = 0;
};

class JsonLogReader {
 public:
  explicit JsonLogReader(std::string path);
  ~JsonLogReader();
  JsonLogReader(const JsonLogReader&) = delete;
  JsonLogReader& operator=(const JsonLogReader&) = delete;

  // Every entry in the rotated files (oldest first) and the live file; afterwards the reader
  // is at the live file's end.
  std::vector<LogEntry> readAll();
  // Positions at the live file's current end (attach without logs).
  void seekEnd();
  // Complete entries appended since the last read, across a rotation.
  std::vector<LogEntry> readNew();

 private:
  bool openLive();
  void drain(std::vector<LogEntry>& out);

  std::string path_;
  int fd_ = -1;
  ino_t inode_ = 0;
  std::string partial_;
};

// Docker's stream framing for a non-TTY stream: an 8-byte header (stream 1 or 2, then the
// big-endian length) before each payload.
std::string frameStream(int stream, const std::string& payload);

}  // namespace berth::bridge
