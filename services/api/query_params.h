// Query parameters as the Docker API reads them: booleans, integers and times, each with
// dockerd's answer to a value that is not one.
#pragma once

#include <cstdint>
#include <string>

#include "services/api/http/http_server.h"

namespace berth::api {

// "1", "true" and "True" are true, any other value false; absent or empty: `fallback`.
bool boolParam(const http::Request& req, const std::string& name, bool fallback = false);

// Absent or empty: `fallback`; anything but a whole int is invalid "invalid value for NAME: V".
int intParam(const http::Request& req, const std::string& name, int fallback);

// A Docker time (unix seconds with an optional fraction, RFC 3339, a duration before now) in
// unix nanoseconds; invalid "invalid value for NAME: V" when it is none.
int64_t parseTimestamp(const std::string& name, const std::string& value);

// parseTimestamp of a parameter; 0 when it is absent, empty or "0".
int64_t timeParam(const http::Request& req, const std::string& name);

}  // namespace berth::api
