// Uploads (request bodies the API streams in) and downloads (archives the API streams out) as
// files in the image store's staging area, named by random ids. Transfers idle for longer than
// the timeout are removed when the next one begins.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "common/files.h"

namespace berth::images {

class Transfers {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Transfers(std::string dir, std::chrono::seconds idleTimeout = std::chrono::minutes(10));

  std::string beginUpload();
  void write(const std::string& id, std::string_view data);
  // Takes the upload's file out of the table; the caller owns (and removes) the path.
  std::string takeUpload(const std::string& id);
  // Registers an existing file (in the staging dir) as a download; returns its id.
  std::string addDownload(const std::string& path);
  std::string read(const std::string& id, uint64_t offset, uint32_t maxBytes);
  void discard(const std::string& id);  // either kind; unknown ids are ignored
  std::string pathFor(const std::string& prefix);

 private:
  struct Transfer {
    std::string path;
    UniqueFd fd;
    Clock::time_point touched;
    bool upload;
  };
  Transfer& findLocked(const std::string& id, bool upload);
  void expireLocked();
  std::string newIdLocked();

  std::string dir_;
  std::chrono::seconds idleTimeout_;
  std::mutex mutex_;
  std::map<std::string, Transfer> transfers_;
};

}  // namespace berth::images
