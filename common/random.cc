#include "common/random.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "common/errors.h"
#include "common/files.h"

namespace berth {

std::string randomHex(size_t bytes) {
  UniqueFd fd(::open("/dev/urandom", O_RDONLY | O_CLOEXEC));
  std::vector<unsigned char> raw(bytes);
  if (!fd || ::read(fd.get(), raw.data(), bytes) != static_cast<ssize_t>(bytes)) throwSystemError("read", "/dev/urandom");
  std::string hex(bytes * 2, '0');
  static const char* digits = "0123456789abcdef";
  for (size_t i = 0; i < bytes; ++i) {
    hex[2 * i] = digits[raw[i] >> 4];
    hex[2 * i + 1] = digits[raw[i] & 15];
  }
  return hex;
}

}  // namespace berth
