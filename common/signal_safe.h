// Formatting that is safe between fork and exec and inside signal handlers: no allocation, no
// locale, no stdio.
#pragma once

#include <cstddef>

namespace berth {

// Writes `value` in decimal at `out` with a terminating NUL, within `cap` bytes (cap >= 21 holds
// every value); returns the number of digits written, 0 when they do not fit.
inline size_t formatDecimal(char* out, size_t cap, unsigned long value) {
  char digits[20];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  if (n + 1 > cap) return 0;
  for (size_t i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
  out[n] = '\0';
  return n;
}

}  // namespace berth
