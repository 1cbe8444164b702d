#include "common/shared_library.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"

namespace berth {
namespace {

std::string lastDlError() {
  const char* text = ::dlerror();
  return text ? text : "no error text";
}

}  // namespace

SharedLibrary::SharedLibrary(const char* soname) : soname_(soname), handle_(::dlopen(soname, RTLD_NOW | RTLD_LOCAL)) {
  if (!handle_) throw Error(ErrorKind::unavailable, "cannot open " + soname_ + ": " + lastDlError());
}

void* SharedLibrary::symbol(const char* name) const {
  ::dlerror();
  void* found = ::dlsym(handle_, name);
  if (!found) throw Error(ErrorKind::unavailable, soname_ + " has no " + name + ": " + lastDlError());
  return found;
}

ClosableLibrary::ClosableLibrary(const char* soname) : soname_(soname) {}

ClosableLibrary::~ClosableLibrary() {
  if (handle_) ::dlclose(handle_);
}

void ClosableLibrary::hold() {
  std::lock_guard lock(mutex_);
  if (!handle_) {
    handle_ = ::dlopen(soname_.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) throw Error(ErrorKind::unavailable, "cannot open " + soname_ + ": " + lastDlError());
  }
  ++holders_;
}

void ClosableLibrary::release(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (holders_ == 0) throw Error(ErrorKind::internal, soname_ + " released more often than held");
  if (--holders_ == 0) lastRelease_ = now;
}

bool ClosableLibrary::closeIfIdle(Clock::duration idleFor, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (!handle_ || holders_ > 0 || now - lastRelease_ < idleFor) return false;
  // Emptied before the close: a function looked up from now on is looked up in the next opening.
  for (auto* slot : resolved_) slot->store(nullptr, std::memory_order_release);
  resolved_.clear();
  if (::dlclose(handle_) != 0) spdlog::warn("dlclose of {}: {}", soname_, lastDlError());
  handle_ = nullptr;
  return true;
}

bool ClosableLibrary::isOpen() const {
  std::lock_guard lock(mutex_);
  return handle_ != nullptr;
}

void* ClosableLibrary::resolve(const char* name, std::atomic<void*>& slot) {
  std::lock_guard lock(mutex_);
  if (!handle_ || holders_ == 0)
    throw Error(ErrorKind::internal, std::string(name) + " called while nothing holds " + soname_);
  if (void* found = slot.load(std::memory_order_acquire)) return found;
  ::dlerror();
  void* found = ::dlsym(handle_, name);
  if (!found) throw Error(ErrorKind::unavailable, soname_ + " has no " + name + ": " + lastDlError());
  resolved_.push_back(&slot);  // listed first: a slot that holds an address is always emptied at a close
  slot.store(found, std::memory_order_release);
  return found;
}

}  // namespace berth
