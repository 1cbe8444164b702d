// `docker save` streamed while it is written (docs/images.md, "Saving"): the archive is written
// on a thread here into a growing download (Transfers), which the API reads from its first block
// on, instead of after the whole archive is on disk.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "services/images/image_store.h"
#include "services/images/transfers.h"

namespace berth::images {

class SavesAhead {
 public:
  // `afterReport`, for tests, runs on a save's thread after each report of what is written.
  SavesAhead(Transfers& transfers, ImageStore& store, std::function<void()> afterReport = nullptr)
      : transfers_(transfers), store_(store), afterReport_(std::move(afterReport)) {}
  ~SavesAhead();  // stops the unfinished saves (their readers fail) and waits for their threads

  // Resolves `refs` now (notFound, "No such image: REF", before anything is written), then
  // writes their archive on a thread into a growing download; returns the download's id. The
  // write stops once the download is discarded (the client went away).
  std::string start(const std::vector<std::string>& refs);
  size_t running() const;

 private:
  struct Save {
    std::thread thread;
    std::atomic<bool> ended{false};
  };
  void reapLocked();

  Transfers& transfers_;
  ImageStore& store_;
  std::function<void()> afterReport_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Save>> saves_;  // by download id
};

}  // namespace berth::images
