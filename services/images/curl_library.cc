#include "services/images/curl_library.h"

#include <string>

#include "common/errors.h"
#include "common/shared_library.h"

namespace berth::images {
namespace {

constexpr const char* kSoname = "libcurl.so.4";

CurlLibrary load() {
  const SharedLibrary library(kSoname);
  CurlLibrary curl{};
  CURLcode (*globalInit)(long) = nullptr;
  library.resolve("curl_global_init", globalInit);
  library.resolve("curl_easy_init", curl.easyInit);
  library.resolve("curl_easy_cleanup", curl.easyCleanup);
  library.resolve("curl_easy_setopt", curl.easySetopt);
  library.resolve("curl_easy_perform", curl.easyPerform);
  library.resolve("curl_easy_getinfo", curl.easyGetinfo);
  library.resolve("curl_easy_strerror", curl.easyStrerror);
  library.resolve("curl_slist_append", curl.slistAppend);
  library.resolve("curl_slist_free_all", curl.slistFreeAll);
  // curl_global_init is not thread-safe: openCurl runs this once, its static initialised under
  // the lock the compiler keeps for it.
  if (CURLcode rc = globalInit(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
    throw Error(ErrorKind::unavailable, std::string("curl_global_init failed: ") + curl.easyStrerror(rc));
  }
  return curl;
}

}  // namespace

const CurlLibrary& openCurl() {
  // Opened once per process (a throw leaves it to the next call to try again).
  static const CurlLibrary curl = load();
  return curl;
}

}  // namespace berth::images
