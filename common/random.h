// Random identifiers from the kernel's generator.
#pragma once

#include <string>

namespace berth {

// 2 * bytes lower-case hex characters from /dev/urandom.
std::string randomHex(size_t bytes);

}  // namespace berth
