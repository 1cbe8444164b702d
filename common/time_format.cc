#include "common/time_format.h"

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>

namespace berth {
namespace {

// Times in int64 nanoseconds end in 1677 and 2262: arithmetic on a time from a client, an image
// config or a log record saturates there instead of overflowing (undefined behaviour that
// wraps a year 4052 into 1607 in practice).
int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) return b > 0 ? INT64_MAX : INT64_MIN;
  return sum;
}

int64_t secondsToNanos(int64_t seconds) {
  int64_t nanos;
  if (__builtin_mul_overflow(seconds, int64_t{1000000000}, &nanos)) return seconds > 0 ? INT64_MAX : INT64_MIN;
  return nanos;
}

}  // namespace

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

int64_t parseRfc3339Nanos(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  int used = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6) return 0;
  if (y <= 1) return 0;
  tm t{};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = sec;
  int64_t nanos = secondsToNanos(timegm(&t));
  size_t i = static_cast<size_t>(used);
  if (i < text.size() && text[i] == '.') {
    int64_t frac = 0, scale = 100000000;
    for (++i; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      frac += (text[i] - '0') * scale;
      scale /= 10;
    }
    nanos = saturatingAdd(nanos, frac);
  }
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int oh = 0, om = 0;
    std::sscanf(text.c_str() + i + 1, "%d:%d", &oh, &om);
    int64_t offset = oh * 3600LL + om * 60LL;  // seconds: no int pair overflows it
    nanos = saturatingAdd(nanos, secondsToNanos(text[i] == '-' ? offset : -offset));
  }
  return nanos;
}

int64_t unixNanosOf(int64_t seconds, int64_t nanos) {
  constexpr int64_t kYearTwo = -62104060800;  // 0002-01-01T00:00:00Z
  if (seconds < kYearTwo) return 0;
  return saturatingAdd(secondsToNanos(seconds), nanos);
}

namespace {

// Go's time.ParseDuration for the units a filter uses: "300ms", "1.5h", "2h45m".
std::optional<int64_t> parseGoDuration(const std::string& text) {
  static const std::pair<const char*, double> units[] = {{"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6},
                                                         {"s", 1e9},  {"m", 60e9}, {"h", 3600e9}};
  size_t i = 0;
  double total = 0;
  if (text.empty()) return std::nullopt;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    double value = std::strtod(text.substr(start, i - start).c_str(), nullptr);
    size_t unitStart = i;
    while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])) && text[i] != '.') ++i;
    std::string unit = text.substr(unitStart, i - unitStart);
    bool known = false;
    for (const auto& [name, scale] : units) {
      if (unit == name) {
        total += value * scale;
        known = true;
      }
    }
    if (!known) return std::nullopt;
  }
  // Go's ParseDuration refuses a duration beyond int64 nanoseconds (about 292 years).
  if (!(total < 9223372036854775807.0)) return std::nullopt;
  return static_cast<int64_t>(total);
}

}  // namespace

std::optional<int64_t> parseDockerTime(const std::string& text, int64_t nowNanos) {
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789.") == std::string::npos) {
    auto dot = text.find('.');
    std::string secs = text.substr(0, dot), frac = dot == std::string::npos ? "" : text.substr(dot + 1);
    if (secs.empty() || secs.size() > 12 || frac.size() > 9 || frac.find('.') != std::string::npos) return std::nullopt;
    frac.resize(9, '0');
    return saturatingAdd(secondsToNanos(std::stoll(secs)), std::stoll(frac));
  }
  if (auto d = parseGoDuration(text)) return nowNanos - *d;
  if (int64_t t = parseRfc3339Nanos(text); t != 0) return t;
  // dockerd's shorter layouts, read as UTC.
  for (const char* layout : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
    tm t{};
    const char* end = strptime(text.c_str(), layout, &t);
    if (end != nullptr && *end == '\0') return secondsToNanos(timegm(&t));
  }
  return std::nullopt;
}

std::string humanDuration(std::chrono::seconds d) {
  long long s = d.count();
  if (s < 1) return "Less than a second";
  if (s == 1) return "1 second";
  if (s < 60) return std::to_string(s) + " seconds";
  long long m = s / 60;
  if (m == 1) return "About a minute";
  if (m < 60) return std::to_string(m) + " minutes";
  long long h = s / 3600;
  if (h == 1) return "About an hour";
  if (h < 48) return std::to_string(h) + " hours";
  if (h < 24 * 7 * 2) return std::to_string(h / 24) + " days";
  if (h < 24 * 30 * 2) return std::to_string(h / 24 / 7) + " weeks";
  if (h < 24 * 365 * 2) return std::to_string(h / 24 / 30) + " months";
  return std::to_string(h / 24 / 365) + " years";
}

std::string statusLine(const std::string& prefix, int64_t sinceNanos, const std::string& suffix, int64_t nowNanos) {
  if (sinceNanos < 0) return prefix;
  int64_t seconds = sinceNanos > 0 && nowNanos > sinceNanos ? (nowNanos - sinceNanos) / 1000000000 : 0;
  return prefix + humanDuration(std::chrono::seconds(seconds)) + suffix;
}

}  // namespace berth
