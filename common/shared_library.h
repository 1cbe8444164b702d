#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace berth {

// A shared library opened at run time, for the few a process needs only sometimes (libssl for a
// TLS listener, libcurl for a registry): a process that never needs one never maps it.
class SharedLibrary {
 public:
  // Opens `soname` with RTLD_NOW | RTLD_LOCAL (nothing else in the process binds to its symbols
  // by accident); throws `unavailable` with dlerror's text. The handle is never closed: the
  // libraries opened this way register exit handlers that must outlive it.
  explicit SharedLibrary(const char* soname);

  // Sets `out` to the symbol `name`; throws `unavailable` when the library has none.
  template <typename Function>
  void resolve(const char* name, Function& out) const {
    out = reinterpret_cast<Function>(symbol(name));
  }

 private:
  void* symbol(const char* name) const;

  std::string soname_;
  void* handle_;
};

// A library opened while something holds it and closed once nothing has held it for a while:
// `dlclose` unmaps it and every library only it brought in. For a library whose use comes in
// bursts and whose objects are all made by functions of its own and freed by others
// (libarchive in berth-images: `archive_read_new` … `archive_read_free`): each such object
// holds the library from its making to its freeing, so no call reaches a closed library.
class ClosableLibrary {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ClosableLibrary(const char* soname);
  ~ClosableLibrary();  // closes it if open; make the one of a process to live until exit
  ClosableLibrary(const ClosableLibrary&) = delete;
  ClosableLibrary& operator=(const ClosableLibrary&) = delete;

  // One more holder; opens the library when it is closed (throws `unavailable` with dlerror's
  // text, holding nothing, when it cannot).
  void hold();
  // One holder fewer; the last one starts the idle time `closeIfIdle` measures.
  void release(Clock::time_point now = Clock::now());
  // Closes the library when nothing holds it and nothing has since `idleFor` before `now`.
  // True when it closed it.
  bool closeIfIdle(Clock::duration idleFor, Clock::time_point now = Clock::now());
  bool isOpen() const;

 private:
  template <typename Function>
  friend class LibraryFunction;
  // The address of `name` in the open library, stored in `slot`, which every close empties.
  // Throws `internal` when nothing holds the library, `unavailable` when it has no `name`.
  void* resolve(const char* name, std::atomic<void*>& slot);

  std::string soname_;
  mutable std::mutex mutex_;
  void* handle_ = nullptr;
  size_t holders_ = 0;
  Clock::time_point lastRelease_{};
  std::vector<std::atomic<void*>*> resolved_;
};

// One function of a ClosableLibrary, looked up at its first call after each opening. Call it
// only while something holds the library. The library keeps its address to empty it at each
// close, so it must live as long as the library (a function-local static, as the forwarders'
// are).
template <typename Function>
class LibraryFunction {
 public:
  LibraryFunction(ClosableLibrary& library, const char* name) : library_(library), name_(name) {}

  Function get() {
    void* found = slot_.load(std::memory_order_acquire);
    if (!found) found = library_.resolve(name_, slot_);
    return reinterpret_cast<Function>(found);
  }

 private:
  ClosableLibrary& library_;
  const char* name_;
  std::atomic<void*> slot_{nullptr};
};

}  // namespace berth

// Defines the C function `name`, which the library's header declares, as a call of the function
// of that name in the SharedLibrary `library()` returns, looked up at the first call. For a
// library a process links only in name: its code is written against the header as for a linked
// one, and the library is opened when something first calls into it. Write it inside
// extern "C": a parameter list `Params` that differs from the header's is then a conflicting
// declaration and does not compile. `Args` names the parameters, in order.
#define BERTH_FORWARD_TO(library, Ret, name, Params, Args) \
  Ret name Params {                                        \
    static const auto function = [] {                      \
      decltype(&::name) found;                             \
      (library)().resolve(#name, found);                   \
      return found;                                        \
    }();                                                   \
    return function Args;                                  \
  }

// The same for a function of a ClosableLibrary `library()` that is called on an object of the
// library's (which holds it from its making to its freeing). The functions that make or free
// those objects must hold and release the library themselves (libarchive_on_demand.cc).
#define BERTH_FORWARD_TO_HELD(library, Ret, name, Params, Args)                      \
  Ret name Params {                                                                  \
    static ::berth::LibraryFunction<decltype(&::name)> function((library)(), #name); \
    return function.get() Args;                                                      \
  }
