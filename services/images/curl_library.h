// libcurl, opened at the first registry call rather than linked. Linked, libcurl brings 18 more
// libraries into berth-images (GnuTLS through librtmp, LDAP, SASL, SSH, IDN), whose
// relocations and constructors cost a fresh service 3 MB of PSS although most engines never
// pull or push (docs/performance.md, "libcurl opened when first needed").
#pragma once

#include <curl/curl.h>

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

// Opens libcurl and runs curl_global_init the first time it is called (from any thread; later
// calls return the same functions). Throws unavailable, naming the library and dlerror's text,
// when libcurl cannot be opened or lacks a function; the next call tries again.
const CurlLibrary& openCurl();

}  // namespace berth::images
