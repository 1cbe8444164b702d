// Uploads (request bodies the API streams in) and downloads (archives the API streams out) as
// files in the image store's staging area, named by random ids. Transfers idle for longer than
// the timeout are removed when the next one begins.
//
// A streamed upload (a load that extracts as the archive comes in) has no file: its bytes wait
// in memory, at most kStreamBuffer of them, for its one reader, and a write waits while the
// buffer is full. The reader sees the end once the upload is taken and fails once it is
// discarded or expires; once the reader is gone, what is written is dropped.
//
// Every download (`docker save`, `docker export`, streamed while they are written) is a growing
// file its writer is still appending to: a read waits until the bytes it starts at are written,
// sees the end once the writer finished, and fails once the writer failed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/files.h"

namespace berth::images {

class Transfers {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Transfers(std::string dir, std::chrono::seconds idleTimeout = std::chrono::minutes(10));

  static constexpr size_t kStreamBuffer = 8 << 20;

  // A streamed upload's bytes on their way from write() to its reader.
  struct Stream {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::string> chunks;
    size_t buffered = 0;   // bytes in `chunks`, less what the reader took from the first
    size_t firstTaken = 0; // bytes of chunks.front() already read
    enum class End { open, complete, abandoned } end = End::open;
    bool readerGone = false;
  };

  // Reads a streamed upload from its first byte. read() blocks until bytes arrive; returns 0
  // once the upload was taken (complete) and every byte read; throws when it was discarded or
  // expired, or when nothing arrived for the idle timeout.
  class Reader {
   public:
    Reader(std::shared_ptr<Stream> stream, std::chrono::seconds idleTimeout)
        : stream_(std::move(stream)), idleTimeout_(idleTimeout) {}
    ~Reader();  // later writes are dropped
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    size_t read(char* buffer, size_t size);

   private:
    std::shared_ptr<Stream> stream_;
    std::chrono::seconds idleTimeout_;
  };

  // A streamed upload hands its bytes to the Reader that reader() returns, once, and has no file.
  std::string beginUpload(bool streamed = false);
  void write(const std::string& id, std::string_view data);
  // Takes the upload out of the table; the caller owns (and removes) its file. A streamed
  // upload's reader sees the end of its data; it has no file, and "" is returned.
  std::string takeUpload(const std::string& id);
  std::unique_ptr<Reader> reader(const std::string& id);  // invalid for a file upload or a second reader
  bool has(const std::string& id);  // an upload or download not yet taken, discarded or expired
  // Creates `path` (in the staging dir), empty, as a growing download; returns its id. Its writer
  // appends to the file and reports with written(), then finished() or failed().
  std::string beginGrowingDownload(const std::string& path);
  // The first `whole` bytes of the file are written. False once the download is gone
  // (discarded or expired): its writer stops.
  bool written(const std::string& id, uint64_t whole);
  void finished(const std::string& id);
  void failed(const std::string& id, const std::string& why);
  // How long a read of a growing download waits for its first byte to be written.
  static constexpr std::chrono::seconds kGrowthWait{50};
  // What one read of a download returns at most, whatever the caller asks for.
  static constexpr uint32_t kMaxRead = 16u << 20;
  // Reads what the download holds from `offset`, up to maxBytes (at most kMaxRead), into the
  // buffer that `buffer(n)` returns for those n bytes (the reply's own, so they are written
  // once); n is 0 at the end. The table is not locked while the file is read. Of a growing
  // download, waits (up to kGrowthWait) until the byte at `offset` is written or the writer
  // ended; throws the writer's failure.
  void read(const std::string& id, uint64_t offset, uint32_t maxBytes, const std::function<char*(size_t)>& buffer);
  // The n that read() with these arguments would pass to `buffer` now (at least: a growing
  // download may have grown by then): a reply sized before the read holds what is left of the
  // file, not a whole maxBytes, at the end of a download. Waits as read() does.
  size_t readable(const std::string& id, uint64_t offset, uint32_t maxBytes);
  // Either kind; unknown ids are ignored. A streamed upload's Reader fails; a download's read
  // already in progress completes, one waiting for a growing download's bytes fails.
  void discard(const std::string& id);
  std::string pathFor(const std::string& prefix);

 private:
  static constexpr uint64_t kNothingOffered = UINT64_MAX;
  enum class Use { size, read };  // openDownload for readable() or for read()
  // How far a growing download's file is written, shared with the reads waiting for it.
  struct Growth {
    std::mutex mutex;
    std::condition_variable changed;
    uint64_t whole = 0;
    enum class State { writing, finished, failed, gone } state = State::writing;
    std::string why;  // failed: the writer's error
    // What readable() last answered (its one reader reads in order), for the read that follows.
    uint64_t offeredAt = kNothingOffered;
    size_t offered = 0;
  };
  struct Transfer {
    std::string path;
    std::shared_ptr<const UniqueFd> fd;  // shared with reads in progress, which run unlocked
    Clock::time_point touched;
    bool upload;
    std::shared_ptr<Stream> stream;  // streamed uploads only
    bool readerTaken = false;
    std::shared_ptr<Growth> growth{};  // growing downloads only
  };
  static void end(Transfer& t, Stream::End how);
  static void setGrowth(Growth& g, Growth::State state, uint64_t whole, const std::string& why = "");
  Transfer& findLocked(const std::string& id, bool upload);
  struct OpenDownload {
    std::shared_ptr<const UniqueFd> fd;
    std::shared_ptr<Growth> growth;
    std::string path;
    size_t readable;  // what a read of maxBytes at offset returns, as read() counts it
  };
  OpenDownload openDownload(const std::string& id, uint64_t offset, uint32_t maxBytes, Use use);
  void expireLocked();
  std::string newIdLocked();

  std::string dir_;
  std::chrono::seconds idleTimeout_;
  std::mutex mutex_;
  std::map<std::string, Transfer> transfers_;
};

}  // namespace berth::images
