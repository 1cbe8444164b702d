// Deadlines that travel: a call's deadline is when its caller stops waiting. Every nested call
// (RPC to another service, gRPC to containerd) takes the caller's deadline, capped by a budget
// of its own, so an inner step fails with deadlineExceeded before the outer caller gives up.
#pragma once

#include <algorithm>
#include <chrono>

namespace berth {

using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;

inline Deadline deadlineIn(std::chrono::milliseconds d) { return SteadyClock::now() + d; }

// The earlier of `outer` and `budget` from now: a step's share of its caller's time.
inline Deadline capped(Deadline outer, std::chrono::milliseconds budget) {
  return std::min(outer, SteadyClock::now() + budget);
}

// What is left of `d` (zero when it has passed).
inline std::chrono::milliseconds remaining(Deadline d) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(d - SteadyClock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

inline bool expired(Deadline d) { return SteadyClock::now() >= d; }

// The same instant on the system clock, as gRPC takes deadlines.
inline std::chrono::system_clock::time_point toSystemClock(Deadline d) {
  return std::chrono::system_clock::now() + (d - SteadyClock::now());
}

}  // namespace berth
