#include "ipc/view_stamp.h"

#include <time.h>

#include <algorithm>
#include <array>

namespace berth::ipc {
namespace {

std::function<ViewStamp()>& source(ViewKind kind) {
  static std::array<std::function<ViewStamp()>, kViewKinds> sources;
  return sources[static_cast<size_t>(kind)];
}

}  // namespace

uint64_t viewClockNow() {
  timespec now{};
  ::clock_gettime(CLOCK_BOOTTIME, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000u + static_cast<uint64_t>(now.tv_nsec);
}

uint64_t newViewEpoch() { return viewClockNow() + 1; }

void setViewStampSource(ViewKind kind, std::function<ViewStamp()> stampSource) { source(kind) = std::move(stampSource); }

ViewStamp currentViewStamp(ViewKind kind) {
  auto& s = source(kind);
  return s ? s() : ViewStamp{};
}

ViewStamps currentViewStamps() {
  ViewStamps out;
  for (size_t k = 0; k < kViewKinds; ++k) out[k] = currentViewStamp(static_cast<ViewKind>(k));
  return out;
}

void ViewStampRelay::observe(ViewStamp stamp) {
  if (stamp.epoch == 0) return;
  std::lock_guard lock(mutex_);
  if (stamp.epoch > highest_.epoch) highest_ = stamp;
  else if (stamp.epoch == highest_.epoch) highest_.seq = std::max(highest_.seq, stamp.seq);
}

ViewStamp ViewStampRelay::current() const {
  std::lock_guard lock(mutex_);
  return highest_;
}

}  // namespace berth::ipc
