// SHA-256 through OpenSSL's SHA256_* functions rather than EVP: the same code underneath (SHA-NI
// where the CPU has it, 1.5–1.6 GB/s here either way), without EVP's first fetch, which sets up
// OpenSSL's providers, reads its configuration and loads its error strings, 1.8 MB more of
// libcrypto paged in for the life of the process (docs/performance.md, "What OpenSSL's set-up
// kept in berth-images"). The functions are deprecated in OpenSSL 3, not gone.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "common/digest.h"

#include <openssl/sha.h>

namespace berth {

struct Sha256::State {
  SHA256_CTX ctx;
};

Sha256::Sha256() : state_(std::make_unique<State>()) { SHA256_Init(&state_->ctx); }

Sha256::~Sha256() = default;

void Sha256::update(const void* data, size_t size) { SHA256_Update(&state_->ctx, data, size); }

std::string Sha256::hex() {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256_Final(d, &state_->ctx);
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(sizeof d * 2);
  for (unsigned char b : d) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string Sha256::digest() { return "sha256:" + hex(); }

std::string sha256Hex(std::string_view data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.hex();
}

}  // namespace berth
