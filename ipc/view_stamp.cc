#include "ipc/view_stamp.h"

namespace berth::ipc {
namespace {

std::function<ViewStamp()>& source() {
  static std::function<ViewStamp()> stampSource;
  return stampSource;
}

}  // namespace

void setViewStampSource(std::function<ViewStamp()> stampSource) { source() = std::move(stampSource); }

ViewStamp currentViewStamp() {
  auto& s = source();
  return s ? s() : ViewStamp{};
}

}  // namespace berth::ipc
