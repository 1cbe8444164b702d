// Reads a container's json-file log (the live file and its rotated predecessors) for docker
// logs and attach, and follows it as berth-logger appends and rotates it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace berth::bridge {

// A place in a container's log that survives the reader, the bridge and a rotation: the file
// (by inode: a rotation renames, so the inode stays with the lines) and the byte offset in it.
// file 0 is the log's start (its oldest file's first byte), where a log not yet written starts.
struct LogPosition {
  uint64_t file = 0;
  int64_t offset = 0;
};

struct LogEntry {
  std::string stream;  // "stdout" or "stderr"
  std::string text;
  int64_t timeNanos = 0;
  LogPosition end;     // just after the entry's line
};

class JsonLogReader {
 public:
  explicit JsonLogReader(std::string path);
  ~JsonLogReader();
  JsonLogReader(const JsonLogReader&) = delete;
  JsonLogReader& operator=(const JsonLogReader&) = delete;

  // Calls `fn` with every entry of the rotated files (oldest first) and the live file, or,
  // with tail >= 0, with the last `tail` lines only (found by reading backwards from the end,
  // as dockerd's tail reader does), until `fn` returns false. Memory stays at a block and a
  // line whatever the log's size. Afterwards the reader is at the live file's end.
  void forEach(int64_t tail, const std::function<bool(const LogEntry&)>& fn);
  // Positions at the live file's current end (attach without logs).
  void seekEnd();
  // Complete entries appended since the last read, across a rotation.
  std::vector<LogEntry> readNew();
  // Positions the reader at `from`: readNew() then gives every entry after it, across the
  // rotated files that came after its file. false when no file of the log is `from`'s any more
  // (rotated away); the reader is then where it was.
  bool seek(LogPosition from);
  // Just after the last entry read (or where seekEnd()/seek() put the reader).
  LogPosition position() const { return position_; }
  const std::string& path() const { return path_; }
  // Whether the live file was there for the last seek() (or read).
  bool hasLiveFile() const { return fd_ >= 0; }

 private:
  bool openLive();
  // Reads `fd` from its position to its end, calling `fn` per complete line; false once `fn`
  // said stop. Incomplete last lines stay in `partial`.
  bool stream(int fd, std::string& partial, const std::function<bool(const LogEntry&)>& fn);
  void drain(std::vector<LogEntry>& out);

  std::string path_;
  int fd_ = -1;
  ino_t inode_ = 0;
  std::string partial_;
  LogPosition position_;
  // Rotated files still to read before the live one (seek() into a rotated file): oldest first.
  std::vector<int> pending_;
};

// A reader positioned at `from` in the first of `paths` (a container's log where it lives,
// then where its removal keeps it) that holds `from`'s file and its live file: a --rm
// container whose removal is under way has its whole log at the second place once the first
// has begun to go. Else the first place that holds `from`'s file at all (a rotation can leave
// a moment without a live file), and nullptr when none does (the log rotated past `from`).
std::unique_ptr<JsonLogReader> readerAt(const std::vector<std::string>& paths, LogPosition from);

// Reads `reader`'s new entries, and those its file still gets, until none came for `quiet` or
// `limit` has passed, handing each batch to `emit`; false when `emit` said stop. For a log
// whose container is gone and whose logger may still be writing its last lines: a removal
// under way links the log where it is kept before the logger is known to be done, and the
// link is the same file.
bool readUntilQuiet(JsonLogReader& reader, const std::function<bool(const std::vector<LogEntry>&)>& emit,
                    std::chrono::milliseconds quiet, std::chrono::milliseconds limit);

// Docker's stream framing for a non-TTY stream: an 8-byte header (stream 1 or 2, then the
// big-endian length) before each payload.
std::string frameStream(int stream, const std::string& payload);

}  // namespace berth::bridge
