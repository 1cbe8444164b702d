// Downloads written while they are read (docker save and docker export, docs/images.md
// "Saving"): the archive is written on a thread here into a growing download (Transfers), which
// the API reads from its first block on, instead of after the whole archive is on disk.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "services/images/transfers.h"

namespace berth::images {

class WritesAhead {
 public:
  // Writes the archive to `fd` (the file `path`), telling `written` how far it is whole;
  // `written` returns false when the writing is to stop. Throws on failure.
  using Writer = std::function<void(int fd, const std::string& path, const std::function<bool(uint64_t)>& written)>;

  // `afterReport`, for tests, runs on a writer's thread after each report of what is written.
  explicit WritesAhead(Transfers& transfers, std::function<void()> afterReport = nullptr)
      : transfers_(transfers), afterReport_(std::move(afterReport)) {}
  ~WritesAhead();  // stops the unfinished writers (their readers fail) and waits for their threads

  // Starts `write` on a thread into a new growing download named after `kind`; returns the
  // download's id. The writing stops once the download is discarded (the client went away).
  // Whatever the writer needs resolved before the first byte (an unknown name) is resolved by
  // the caller first.
  std::string start(const std::string& kind, Writer write);
  // Discards the download (of any kind; unknown ids are ignored) and, when a writer still writes
  // it, waits for the writer to stop at its next report: what it held (an export's layers) is
  // let go before this returns.
  void close(const std::string& download);
  size_t running() const;

 private:
  struct Writing {
    std::thread thread;
    std::atomic<bool> ended{false};
  };
  void reapLocked();

  Transfers& transfers_;
  std::function<void()> afterReport_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Writing>> writings_;  // by download id
};

}  // namespace berth::images
