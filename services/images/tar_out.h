// A tar archive written to a descriptor for a reader that may follow the file while it grows
// (docker save and docker export, docs/images.md "Saving"). How far the file is whole is
// reported every 256 KiB, and the report can stop the writing (the reader went away). An archive
// not closed (an error, a stop) is cut off where it stopped: never padded and ended into one
// that reads whole.
#pragma once

#include <archive.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace berth::images {

class TarOut {
 public:
  // `written`, when given, is told how many bytes of the file are whole; false stops the writing.
  // `name` names the file in errors.
  TarOut(int fd, std::string name, std::function<bool(uint64_t)> written = nullptr);
  ~TarOut();
  TarOut(const TarOut&) = delete;
  TarOut& operator=(const TarOut&) = delete;

  archive* get() const { return archive_.get(); }
  // internal "writing NAME: <libarchive's error>".
  [[noreturn]] void fail() const;
  // Writes `size` bytes of the current entry; fails as fail() when libarchive takes fewer.
  void data(const void* bytes, size_t size);
  // Ends the archive (the end marker, as for a file: no padding past it).
  void close();

 private:
  struct Sink {
    int fd;
    std::function<bool(uint64_t)> written;
    uint64_t whole = 0;
    uint64_t told = 0;     // what `written` was last told
    bool failed = false;  // a write failed or was stopped: every later one fails too
  };
  static la_ssize_t writeBlock(archive* a, void* sink, const void* buffer, size_t length);

  std::string name_;
  Sink sink_;
  std::unique_ptr<archive, decltype(&archive_write_free)> archive_;
  bool closed_ = false;
};

}  // namespace berth::images
