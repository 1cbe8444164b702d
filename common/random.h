// Random identifiers from the kernel's generator.
#pragma once

#include <string>
#include <string_view>

namespace berth {

// 2 * bytes lower-case hex characters from /dev/urandom.
std::string randomHex(size_t bytes);

// The 12-character form Docker shows of a 64-character id (`docker ps`, log lines).
inline std::string shortId(std::string_view id) { return std::string(id.substr(0, 12)); }

}  // namespace berth
