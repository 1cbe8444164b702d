#include "common/memory_return.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

namespace berth {
namespace {

// The process's minor page faults so far: each is a page it touched that was not resident,
// among them the free pages a trim gave back and a later allocation wrote again.
long minorFaults() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

}  // namespace

MemoryReturn::MemoryReturn(std::chrono::milliseconds every, size_t grownBy, std::function<void()> beforeLook)
    : grownBy_(grownBy), beforeLook_(std::move(beforeLook)) {
  freeAfterTrim_ = mallinfo2().fordblks;
  faultsAfterTrim_ = minorFaults();
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
  // fordblks: the bytes the arenas hold free, returnable or not. It alone misses a burst that
  // reuses the free blocks a trim gave back and frees them again: the pages are resident
  // again, and the free bytes are what they were. The faults count those pages.
  size_t free = mallinfo2().fordblks;
  if (free < freeAfterTrim_) freeAfterTrim_ = free;
  static const long pageSize = ::sysconf(_SC_PAGESIZE);
  bool freedMore = free > freeAfterTrim_ + grownBy_;
  bool touchedMore = static_cast<size_t>(minorFaults() - faultsAfterTrim_) * static_cast<size_t>(pageSize) > grownBy_;
  if (!freedMore && !touchedMore) return false;
  malloc_trim(0);
  freeAfterTrim_ = mallinfo2().fordblks;
  faultsAfterTrim_ = minorFaults();
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
