// Times as the Docker API writes them.
#pragma once

#include <cstdint>
#include <string>

namespace berth {

// RFC 3339 in UTC with nanoseconds: "2026-11-28T06:00:00.123456789Z".
std::string rfc3339Nano(int64_t unixNanos);
int64_t nowUnixNanos();

}  // namespace berth
