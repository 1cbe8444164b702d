// OpenSSL's libssl, opened when a TCP listener needs TLS rather than linked. Linked, libssl and
// libcrypto cost berth-api 1.2 MB of PSS for their relocations and first pages alone, in every
// engine, although most serve only the local socket (docs/performance.md, "OpenSSL in berth-api
// only with TLS").
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace berth::http {

// The OpenSSL functions the API's TLS calls, resolved from libssl.so.3 (libcrypto's among them,
// through libssl's own dependency). Each member has the type of the function it stands for, so
// a call through it is checked as a direct call would be. The header's macros over SSL_ctrl and
// SSL_CTX_ctrl (SSL_set_mode, SSL_CTX_set_min_proto_version) are spelled out by the callers.
struct OpenSslLibrary {
  decltype(&::TLS_server_method) serverMethod;
  decltype(&::SSL_CTX_new) ctxNew;
  decltype(&::SSL_CTX_free) ctxFree;
  decltype(&::SSL_CTX_ctrl) ctxCtrl;
  decltype(&::SSL_CTX_use_certificate_chain_file) ctxUseCertificateChainFile;
  decltype(&::SSL_CTX_use_PrivateKey_file) ctxUsePrivateKeyFile;
  decltype(&::SSL_CTX_load_verify_locations) ctxLoadVerifyLocations;
  decltype(&::SSL_CTX_set_verify) ctxSetVerify;
  decltype(&::SSL_new) sslNew;
  decltype(&::SSL_free) sslFree;
  decltype(&::SSL_set_fd) setFd;
  decltype(&::SSL_ctrl) ctrl;
  decltype(&::SSL_accept) accept;
  decltype(&::SSL_read) read;
  decltype(&::SSL_write) write;
  decltype(&::SSL_shutdown) shutdown;
  decltype(&::SSL_get_error) getError;
  decltype(&::ERR_get_error) errGet;
  decltype(&::ERR_clear_error) errClear;
  decltype(&::ERR_error_string_n) errString;
};

// Opens libssl the first time it is called (from any thread; later calls return the same
// functions). Throws unavailable, naming the library and dlerror's text, when libssl cannot be
// opened or lacks a function; the next call tries again.
const OpenSslLibrary& openSsl();

}  // namespace berth::http
