#pragma once

#include <string>

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
