#include "services/images/curl_library.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

#include "common/errors.h"

namespace berth::images {
namespace {

constexpr const char* kSoname = "libcurl.so.4";

std::string lastDlError() {
  const char* text = ::dlerror();
  return text ? text : "no error text";
}

template <typename Function>
void resolve(void* handle, const char* name, Function& out) {
  ::dlerror();
  void* symbol = ::dlsym(handle, name);
  if (!symbol) throw Error(ErrorKind::unavailable, std::string(kSoname) + " has no " + name + ": " + lastDlError());
  out = reinterpret_cast<Function>(symbol);
}

CurlLibrary load() {
  // RTLD_LOCAL: nothing else in the process binds to libcurl's symbols by accident. The handle
  // is never closed: libcurl's TLS library registers exit handlers that must outlive it.
  void* handle = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw Error(ErrorKind::unavailable, std::string("cannot open ") + kSoname + ": " + lastDlError());
  CurlLibrary curl{};
  CURLcode (*globalInit)(long) = nullptr;
  resolve(handle, "curl_global_init", globalInit);
  resolve(handle, "curl_easy_init", curl.easyInit);
  resolve(handle, "curl_easy_cleanup", curl.easyCleanup);
  resolve(handle, "curl_easy_setopt", curl.easySetopt);
  resolve(handle, "curl_easy_perform", curl.easyPerform);
  resolve(handle, "curl_easy_getinfo", curl.easyGetinfo);
  resolve(handle, "curl_easy_strerror", curl.easyStrerror);
  resolve(handle, "curl_slist_append", curl.slistAppend);
  resolve(handle, "curl_slist_free_all", curl.slistFreeAll);
  // curl_global_init is not thread-safe; the caller holds the lock below.
  if (CURLcode rc = globalInit(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
    throw Error(ErrorKind::unavailable, std::string("curl_global_init failed: ") + curl.easyStrerror(rc));
  }
  return curl;
}

}  // namespace

const CurlLibrary& openCurl() {
  // A process opens a library once: this is the dlopen handle's own scope, not a registry.
  static std::mutex mutex;
  static CurlLibrary curl{};
  static bool loaded = false;
  std::lock_guard lock(mutex);
  if (!loaded) {
    curl = load();
    loaded = true;
  }
  return curl;
}

}  // namespace berth::images
