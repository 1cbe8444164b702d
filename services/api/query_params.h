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

// The `filters` parameter's JSON text, "" when absent, empty or JSON null: dockerd reads it with
// Go's json.Unmarshal, which leaves the filter map empty for "null" (and the whitespace JSON
// allows around it), so GET /volumes?filters=null lists every volume there. Text that is only
// whitespace is no JSON and stays for the filter's parser to refuse.
std::string filtersParam(const http::Request& req);

// A Docker time (unix seconds with an optional fraction, RFC 3339, a duration before now) in
// unix nanoseconds; invalid "invalid value for NAME: V" when it is none.
int64_t parseTimestamp(const std::string& name, const std::string& value);

// parseTimestamp of a parameter; 0 when it is absent, empty or "0".
int64_t timeParam(const http::Request& req, const std::string& name);

}  // namespace berth::api
