#include "services/api/http/openssl_library.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

#include "common/errors.h"

namespace berth::http {
namespace {

constexpr const char* kSoname = "libssl.so.3";

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

OpenSslLibrary load() {
  // RTLD_LOCAL: nothing else in the process binds to OpenSSL's symbols by accident. The handle
  // is never closed: OpenSSL registers exit handlers that must outlive it.
  void* handle = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw Error(ErrorKind::unavailable, std::string("cannot open ") + kSoname + ": " + lastDlError());
  OpenSslLibrary ssl{};
  resolve(handle, "TLS_server_method", ssl.serverMethod);
  resolve(handle, "SSL_CTX_new", ssl.ctxNew);
  resolve(handle, "SSL_CTX_free", ssl.ctxFree);
  resolve(handle, "SSL_CTX_ctrl", ssl.ctxCtrl);
  resolve(handle, "SSL_CTX_use_certificate_chain_file", ssl.ctxUseCertificateChainFile);
  resolve(handle, "SSL_CTX_use_PrivateKey_file", ssl.ctxUsePrivateKeyFile);
  resolve(handle, "SSL_CTX_load_verify_locations", ssl.ctxLoadVerifyLocations);
  resolve(handle, "SSL_CTX_set_verify", ssl.ctxSetVerify);
  resolve(handle, "SSL_new", ssl.sslNew);
  resolve(handle, "SSL_free", ssl.sslFree);
  resolve(handle, "SSL_set_fd", ssl.setFd);
  resolve(handle, "SSL_ctrl", ssl.ctrl);
  resolve(handle, "SSL_accept", ssl.accept);
  resolve(handle, "SSL_read", ssl.read);
  resolve(handle, "SSL_write", ssl.write);
  resolve(handle, "SSL_shutdown", ssl.shutdown);
  resolve(handle, "SSL_get_error", ssl.getError);
  // libcrypto's, found through libssl's dependency on it.
  resolve(handle, "ERR_get_error", ssl.errGet);
  resolve(handle, "ERR_clear_error", ssl.errClear);
  resolve(handle, "ERR_error_string_n", ssl.errString);
  return ssl;
}

}  // namespace

const OpenSslLibrary& openSsl() {
  // A process opens a library once: this is the dlopen handle's own scope, not a registry.
  static std::mutex mutex;
  static OpenSslLibrary ssl{};
  static bool loaded = false;
  std::lock_guard lock(mutex);
  if (!loaded) {
    ssl = load();
    loaded = true;
  }
  return ssl;
}

}  // namespace berth::http
