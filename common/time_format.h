// Times as the Docker API writes them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace berth {

// RFC 3339 in UTC with nanoseconds: "2026-11-28T06:00:00.123456789Z".
std::string rfc3339Nano(int64_t unixNanos);
int64_t nowUnixNanos();
// Unix nanoseconds of an RFC 3339 time ("2026-11-28T06:00:00.5Z", "...+02:00"); 0 when it
// cannot be parsed or is Go's zero time.
int64_t parseRfc3339Nanos(const std::string& text);
// Unix nanoseconds of a time given as seconds and nanoseconds (a protobuf Timestamp, as
// containerd sends one): 0 in year 1, where Go's zero time is, which is how containerd says
// "not exited yet"; saturated where int64 nanoseconds end (1677, 2262).
int64_t unixNanosOf(int64_t seconds, int64_t nanos);

// A time as dockerd's filters and query parameters take it (timetypes.GetTimestamp): unix
// seconds with an optional fraction ("1700000000.5"), a Go duration before `nowNanos`
// ("10m", "1h30m"), RFC 3339, or "2006-01-02[T15:04[:05]]" in UTC. nullopt when it is none.
std::optional<int64_t> parseDockerTime(const std::string& text, int64_t nowNanos);

// A duration as Docker shows one ("Up 5 minutes", "Exited (0) About an hour ago"): Go's
// go-units HumanDuration.
std::string humanDuration(std::chrono::seconds d);

// A container's Status in a listing, from the parts that do not move with the clock:
// prefix + the human duration from `sinceNanos` to `nowNanos` + suffix, or prefix alone when
// sinceNanos is negative ("Created", "Dead"). A since of 0 (not known) reads as no time passed.
std::string statusLine(const std::string& prefix, int64_t sinceNanos, const std::string& suffix, int64_t nowNanos);

}  // namespace berth
