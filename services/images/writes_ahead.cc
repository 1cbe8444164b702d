#include "services/images/writes_ahead.h"

#include <fcntl.h>

#include <exception>

#include "common/errors.h"
#include "common/files.h"

namespace berth::images {

WritesAhead::~WritesAhead() {
  stopping_ = true;
  std::map<std::string, std::unique_ptr<Writing>> writings;
  {
    std::lock_guard lock(mutex_);
    writings.swap(writings_);
  }
  for (auto& [download, writing] : writings) {
    transfers_.failed(download, "the images service is stopping");
    writing->thread.join();
  }
}

std::string WritesAhead::start(const std::string& kind, Writer write) {
  std::string path = transfers_.pathFor(kind);
  std::string download = transfers_.beginGrowingDownload(path);
  std::lock_guard lock(mutex_);
  reapLocked();
  auto writing = std::make_unique<Writing>();
  Writing* w = writing.get();
  try {
    w->thread = std::thread([this, w, write = std::move(write), path, download]() mutable {
      try {
        // Without O_CREAT: a download discarded before this opens it stays gone.
        UniqueFd out(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
        if (!out) throwSystemError("open", path);
        write(out.get(), path, [&](uint64_t whole) {
          bool more = !stopping_ && transfers_.written(download, whole);
          if (afterReport_) afterReport_();
          return more;
        });
        // What the writer holds (an export's layers) is let go before its reader sees the end:
        // a client that removes the container right after its export finds nothing held.
        write = nullptr;
        transfers_.finished(download);
      } catch (const std::exception& e) {
        write = nullptr;
        transfers_.failed(download, e.what());
      }
      w->ended = true;
    });
  } catch (...) {
    transfers_.discard(download);
    throw;
  }
  writings_[download] = std::move(writing);
  return download;
}

void WritesAhead::close(const std::string& download) {
  transfers_.discard(download);
  std::unique_ptr<Writing> writing;
  {
    std::lock_guard lock(mutex_);
    auto it = writings_.find(download);
    if (it == writings_.end()) return;
    writing = std::move(it->second);
    writings_.erase(it);
  }
  writing->thread.join();
}

size_t WritesAhead::running() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& [download, writing] : writings_) n += writing->ended ? 0 : 1;
  return n;
}

// A writer that ended (written whole, failed, or stopped by its discarded download) is joined
// here; its download stays until the API closes it or it expires.
void WritesAhead::reapLocked() {
  for (auto it = writings_.begin(); it != writings_.end();) {
    if (it->second->ended) {
      it->second->thread.join();
      it = writings_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace berth::images
