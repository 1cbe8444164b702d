#include "common/memory_return.h"

#include <malloc.h>

namespace berth {

MemoryReturn::MemoryReturn(std::chrono::milliseconds every, size_t grownBy, std::function<void()> beforeLook)
    : grownBy_(grownBy), beforeLook_(std::move(beforeLook)) {
  freeAfterTrim_ = mallinfo2().fordblks;
  if (every.count() > 0) thread_ = std::thread([this, every] { run(every); });
}

MemoryReturn::~MemoryReturn() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool MemoryReturn::returnIfWorthIt() {
  // fordblks: the bytes the arenas hold free, returnable or not. Trimming again when nothing
  // new was freed would walk the arenas for nothing.
  size_t free = mallinfo2().fordblks;
  if (free < freeAfterTrim_) freeAfterTrim_ = free;
  if (free <= freeAfterTrim_ + grownBy_) return false;
  malloc_trim(0);
  freeAfterTrim_ = mallinfo2().fordblks;
  return true;
}

void MemoryReturn::run(std::chrono::milliseconds every) {
  std::unique_lock lock(mutex_);
  while (!stop_.wait_for(lock, every, [this] { return stopping_; })) {
    lock.unlock();
    if (beforeLook_) beforeLook_();
    returnIfWorthIt();
    lock.lock();
  }
}

}  // namespace berth
