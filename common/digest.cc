// SHA-256 through Nettle (Debian's libnettle8, already loaded in berth-images by libarchive):
// SHA-NI where the CPU has it, 1.51–1.54 GB/s here against OpenSSL's 1.66–1.68, while OpenSSL's
// libcrypto cost berth-images 0.9 MB of PSS for its relocations and first pages alone
// (docs/performance.md, "SHA-256 without OpenSSL").
#include "common/digest.h"

#include <nettle/sha2.h>

namespace berth {

struct Sha256::State {
  sha256_ctx ctx;
};

Sha256::Sha256() : state_(std::make_unique<State>()) { sha256_init(&state_->ctx); }

Sha256::~Sha256() = default;

void Sha256::update(const void* data, size_t size) { sha256_update(&state_->ctx, size, static_cast<const uint8_t*>(data)); }

std::string Sha256::hex() {
  uint8_t d[SHA256_DIGEST_SIZE];
  sha256_digest(&state_->ctx, sizeof d, d);
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(sizeof d * 2);
  for (uint8_t b : d) {
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
