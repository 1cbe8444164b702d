// Loads that begin with their upload (docs/images.md, "Loading"): while the API still streams a
// `docker load` body in, a thread here reads the upload (a streamed one, kept in memory, never
// written to a file) and loads it, so the outer archive is unpacked and the layers extracted on
// the way instead of after the last byte.
#pragma once

#include <atomic>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "services/images/image_store.h"
#include "services/images/transfers.h"

namespace berth::images {

class LoadsAhead {
 public:
  LoadsAhead(Transfers& transfers, ImageStore& store) : transfers_(transfers), store_(store) {}
  ~LoadsAhead();  // abandons the uploads of unfinished loads and waits for their threads

  // Begins loading `upload` (a streamed upload of `transfers`) as it arrives.
  void start(const std::string& upload);
  // Completes the upload (nothing more will be written) and waits for its load: the load's
  // result or its error. nullopt when no load was started for it. Consumes the upload either way.
  std::optional<ImageStore::LoadResult> finish(const std::string& upload);
  // Discards the upload and waits for its load to give up.
  void discard(const std::string& upload);

  size_t running() const;
  // At most this many loads read their uploads at once (each holds a thread and up to
  // Transfers::kStreamBuffer of memory); past it, a load's upload is staged as a file and loaded
  // after its last byte, as before loads began early.
  static constexpr size_t kMaxRunning = 16;
  bool full() const { return running() >= kMaxRunning; }

 private:
  struct Load {
    std::thread thread;
    std::atomic<bool> ended{false};
    std::optional<ImageStore::LoadResult> result;
    std::exception_ptr error;
  };
  std::unique_ptr<Load> takeLocked(const std::string& upload);
  void reapLocked();

  Transfers& transfers_;
  ImageStore& store_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Load>> loads_;
};

}  // namespace berth::images
