#include "services/api/http/openssl_library.h"

#include <string>

#include "common/errors.h"
#include "common/shared_library.h"

namespace berth::http {
namespace {

constexpr const char* kSoname = "libssl.so.3";

OpenSslLibrary load() {
  const SharedLibrary library(kSoname);
  OpenSslLibrary ssl{};
  library.resolve("TLS_server_method", ssl.serverMethod);
  library.resolve("SSL_CTX_new", ssl.ctxNew);
  library.resolve("SSL_CTX_free", ssl.ctxFree);
  library.resolve("SSL_CTX_ctrl", ssl.ctxCtrl);
  library.resolve("SSL_CTX_use_certificate_chain_file", ssl.ctxUseCertificateChainFile);
  library.resolve("SSL_CTX_use_PrivateKey_file", ssl.ctxUsePrivateKeyFile);
  library.resolve("SSL_CTX_load_verify_locations", ssl.ctxLoadVerifyLocations);
  library.resolve("SSL_CTX_set_verify", ssl.ctxSetVerify);
  library.resolve("SSL_new", ssl.sslNew);
  library.resolve("SSL_free", ssl.sslFree);
  library.resolve("SSL_set_fd", ssl.setFd);
  library.resolve("SSL_ctrl", ssl.ctrl);
  library.resolve("SSL_accept", ssl.accept);
  library.resolve("SSL_read", ssl.read);
  library.resolve("SSL_write", ssl.write);
  library.resolve("SSL_shutdown", ssl.shutdown);
  library.resolve("SSL_get_error", ssl.getError);
  // libcrypto's, found through libssl's dependency on it.
  library.resolve("ERR_get_error", ssl.errGet);
  library.resolve("ERR_clear_error", ssl.errClear);
  library.resolve("ERR_error_string_n", ssl.errString);
  return ssl;
}

}  // namespace

const OpenSslLibrary& openSsl() {
  // Opened once per process (a throw leaves it to the next call to try again).
  static const OpenSslLibrary ssl = load();
  return ssl;
}

}  // namespace berth::http
