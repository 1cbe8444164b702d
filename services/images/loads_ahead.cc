#include "services/images/loads_ahead.h"

#include <unistd.h>

namespace berth::images {

LoadsAhead::~LoadsAhead() {
  std::map<std::string, std::unique_ptr<Load>> loads;
  {
    std::lock_guard lock(mutex_);
    loads.swap(loads_);
  }
  for (auto& [upload, load] : loads) {
    transfers_.discard(upload);
    load->thread.join();
  }
}

void LoadsAhead::start(const std::string& upload) {
  std::shared_ptr<Transfers::Reader> reader = transfers_.reader(upload);
  std::lock_guard lock(mutex_);
  reapLocked();
  auto load = std::make_unique<Load>();
  Load* l = load.get();
  l->thread = std::thread([this, l, reader]() mutable {
    try {
      l->result = store_.load([&](char* buffer, size_t size) { return reader->read(buffer, size); });
    } catch (...) {
      l->error = std::current_exception();
    }
    reader.reset();  // what the API still sends is dropped
    l->ended = true;
  });
  loads_[upload] = std::move(load);
}

std::unique_ptr<LoadsAhead::Load> LoadsAhead::takeLocked(const std::string& upload) {
  auto it = loads_.find(upload);
  if (it == loads_.end()) return nullptr;
  auto load = std::move(it->second);
  loads_.erase(it);
  return load;
}

// A load whose upload is gone without finish() or discard() (its client, the API, went away
// and the upload expired) ended when the upload did; its thread is joined here.
void LoadsAhead::reapLocked() {
  for (auto it = loads_.begin(); it != loads_.end();) {
    if (it->second->ended && !transfers_.has(it->first)) {
      it->second->thread.join();
      it = loads_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<ImageStore::LoadResult> LoadsAhead::finish(const std::string& upload) {
  std::unique_ptr<Load> load;
  {
    std::lock_guard lock(mutex_);
    load = takeLocked(upload);
  }
  if (!load) return std::nullopt;
  std::string path;
  try {
    path = transfers_.takeUpload(upload);
  } catch (...) {
    transfers_.discard(upload);
    load->thread.join();
    throw;
  }
  load->thread.join();
  if (!path.empty()) ::unlink(path.c_str());
  if (load->error) std::rethrow_exception(load->error);
  return std::move(load->result);
}

void LoadsAhead::discard(const std::string& upload) {
  transfers_.discard(upload);
  std::unique_ptr<Load> load;
  {
    std::lock_guard lock(mutex_);
    load = takeLocked(upload);
  }
  if (load) load->thread.join();
}

size_t LoadsAhead::running() const {
  std::lock_guard lock(mutex_);
  return loads_.size();
}

}  // namespace berth::images
