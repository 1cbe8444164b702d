#include "common/shared_library.h"

#include <dlfcn.h>

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

}  // namespace berth
