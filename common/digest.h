// SHA-256 as the engine spells digests: lower-case hex, "sha256:" prefixed where a digest is meant.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace berth {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t size);
  std::string hex();     // finishes the hash: 64 hex characters
  std::string digest();  // "sha256:" + hex()

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// 64 hex characters of sha256(data).
std::string sha256Hex(std::string_view data);

}  // namespace berth
