#include "services/images/saves_ahead.h"

#include <fcntl.h>

#include <exception>

#include "common/errors.h"
#include "common/files.h"

namespace berth::images {

SavesAhead::~SavesAhead() {
  stopping_ = true;
  std::map<std::string, std::unique_ptr<Save>> saves;
  {
    std::lock_guard lock(mutex_);
    saves.swap(saves_);
  }
  for (auto& [download, save] : saves) {
    transfers_.failed(download, "the images service is stopping");
    save->thread.join();
  }
}

std::string SavesAhead::start(const std::vector<std::string>& refs) {
  auto plan = std::make_shared<ImageStore::SavePlan>(store_.planSave(refs));
  std::string path = transfers_.pathFor("save");
  std::string download = transfers_.beginGrowingDownload(path);
  std::lock_guard lock(mutex_);
  reapLocked();
  auto save = std::make_unique<Save>();
  Save* s = save.get();
  try {
    s->thread = std::thread([this, s, plan, path, download] {
      try {
        // Without O_CREAT: a download discarded before this opens it stays gone.
        UniqueFd out(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
        if (!out) throwSystemError("open", path);
        store_.writeSave(*plan, out.get(), path, [&](uint64_t whole) {
          bool more = !stopping_ && transfers_.written(download, whole);
          if (afterReport_) afterReport_();
          return more;
        });
        transfers_.finished(download);
      } catch (const std::exception& e) {
        transfers_.failed(download, e.what());
      }
      s->ended = true;
    });
  } catch (...) {
    transfers_.discard(download);
    throw;
  }
  saves_[download] = std::move(save);
  return download;
}

size_t SavesAhead::running() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& [download, save] : saves_) n += save->ended ? 0 : 1;
  return n;
}

// A save that ended (written whole, failed, or stopped by its discarded download) is joined
// here; its download stays until the API closes it or it expires.
void SavesAhead::reapLocked() {
  for (auto it = saves_.begin(); it != saves_.end();) {
    if (it->second->ended) {
      it->second->thread.join();
      it = saves_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace berth::images
