#include "common/time_format.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace berth {

std::string rfc3339Nano(int64_t nanos) {
  time_t secs = static_cast<time_t>(nanos / 1000000000);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%09lldZ", static_cast<long long>(nanos % 1000000000));
  return buf;
}

int64_t nowUnixNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace berth
