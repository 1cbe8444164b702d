// Times as the Docker API writes them.
#pragma once

#include <cstdint>
#include <string>

namespace berth {

// RFC 3339 in UTC with nanoseconds: "2026-11-28T06:00:00.123456789Z".
std::string rfc3339Nano(int64_t unixNanos);
int64_t nowUnixNanos();
// Unix nanoseconds of an RFC 3339 time ("2026-11-28T06:00:00.5Z", "...+02:00"); 0 when it
// cannot be parsed or is Go's zero time.
int64_t parseRfc3339Nanos(const std::string& text);

}  // namespace berth
