// The small parsers of values a client puts in a query string or a header: Docker times
// (`since`, `until`: unix seconds, Go durations, RFC 3339 and dockerd's shorter layouts), RFC
// 3339 times (also read from image configs and log records), integers and booleans, API
// versions, percent-encoding, signal names (`kill --signal`, StopSignal) and X-Registry-Auth.
// Each either answers or refuses with an invalid berth::Error (X-Registry-Auth always answers).
#include "common/errors.h"
#include "common/time_format.h"
#include "services/api/http/http_server.h"
#include "services/api/images_routes.h"
#include "services/api/query_params.h"
#include "services/api/router.h"
#include "services/containerd-bridge/container_config.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

// 2026-12-01T00:00:00Z: a fixed "now", so a run is reproducible.
constexpr int64_t kNow = 1796083200LL * 1000000000LL;

template <typename F>
void refusedAsInvalid(const char* what, F fn) {
  try {
    fn();
  } catch (const berth::Error& e) {
    if (e.kind() != berth::ErrorKind::invalid) {
      berth::fuzz::invariantBroken(std::string(what) + " refused with a kind other than invalid: " + e.what());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = berth::fuzz::splitInput(data, size, 2);
  const std::string& value = parts[0];

  berth::parseDockerTime(value, kNow);
  berth::parseRfc3339Nanos(value);
  berth::api::parseRfc3339(value);
  berth::api::compareApiVersions(value, berth::api::kApiVersion);
  berth::http::percentDecode(value, true);
  berth::http::percentDecode(value, false);

  berth::http::Request req;
  req.query.emplace_back("v", value);
  refusedAsInvalid("parseTimestamp", [&] { berth::api::parseTimestamp("since", value); });
  refusedAsInvalid("timeParam", [&] { berth::api::timeParam(req, "v"); });
  refusedAsInvalid("intParam", [&] { berth::api::intParam(req, "v", 0); });
  berth::api::boolParam(req, "v");
  refusedAsInvalid("parseSignal", [&] { berth::bridge::parseSignal(value); });
  berth::api::registryAuth(value);  // never throws: a header that does not decode means no credentials
  return 0;
}
