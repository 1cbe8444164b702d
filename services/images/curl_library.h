// libcurl, opened at the first registry call rather than linked. Linked, libcurl brings 18 more
// libraries into berth-images (GnuTLS through librtmp, LDAP, SASL, SSH, IDN), whose
// relocations and constructors cost a fresh service 3 MB of PSS although most engines never
// pull or push (docs/performance.md, "libcurl opened when first needed").
#pragma once

#include <curl/curl.h>

#include <type_traits>

namespace berth::images {

// The libcurl functions the registry client calls, resolved from libcurl.so.4.
struct CurlLibrary {
  CURL* (*easyInit)();
  void (*easyCleanup)(CURL*);
  CURLcode (*easySetopt)(CURL*, CURLoption, ...);
  CURLcode (*easyPerform)(CURL*);
  CURLcode (*easyGetinfo)(CURL*, CURLINFO, ...);
  const char* (*easyStrerror)(CURLcode);
  curl_slist* (*slistAppend)(curl_slist*, const char*);
  void (*slistFreeAll)(curl_slist*);
};

// curl_easy_setopt with the argument type checked against the option's kind, as curl's own
// header does for direct calls (<curl/typecheck-gcc.h>), which a call through a function
// pointer bypasses: curl reads the argument with va_arg as the option's kind says.
template <CURLoption option, typename T>
CURLcode setOption(const CurlLibrary& curl, CURL* handle, T value) {
  constexpr int kind = option / 10000 * 10000;
  if constexpr (kind == CURLOPTTYPE_LONG) {
    static_assert(std::is_same_v<T, long> || std::is_same_v<T, unsigned long>, "this option takes a long");
  } else if constexpr (kind == CURLOPTTYPE_OFF_T) {
    static_assert(std::is_same_v<T, curl_off_t>, "this option takes a curl_off_t");
  } else if constexpr (kind == CURLOPTTYPE_FUNCTIONPOINT) {
    static_assert(std::is_function_v<std::remove_pointer_t<T>>, "this option takes a function pointer");
  } else {
    static_assert(kind == CURLOPTTYPE_OBJECTPOINT && std::is_pointer_v<T>, "this option takes a pointer");
  }
  return curl.easySetopt(handle, option, value);
}

// Opens libcurl and runs curl_global_init the first time it is called (from any thread; later
// calls return the same functions). Throws unavailable, naming the library and dlerror's text,
// when libcurl cannot be opened or lacks a function; the next call tries again.
const CurlLibrary& openCurl();

}  // namespace berth::images
