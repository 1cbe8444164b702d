// A container's logging as dockerd 20.10 configures it. json-file is the default (an empty
// driver name means it, with the options given) and `local` is kept in the same store (berth
// reads both the same way); `none` keeps no log that `docker logs` serves (dockerd's 501), while
// a small rolling buffer still feeds attach. Other drivers dockerd has are refused as not
// supported by berth; any other name as dockerd's plugin lookup refuses it. Option keys are
// checked at create and values at start, where dockerd checks each.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace berth::bridge {

struct LogSettings {
  std::string driver;    // json-file, local or none
  uint64_t maxSize = 0;  // bytes; 0: no rotation
  unsigned maxFiles = 1;
  bool readable = true;  // false for none: docker logs refuses
};

// At create: HostConfig.LogConfig (null or absent: the default) with dockerd's refusals
// ("error looking up logging plugin X: plugin \"X\" not found", "unknown log opt 'k' for
// json-file log driver"); returns it normalised ({Type, Config}).
nlohmann::json validateLogConfig(const nlohmann::json& logConfig);

// At start: the values, as dockerd's logger parses them; invalid "failed to initialize
// logging driver: invalid size: 'abc'" and the like otherwise.
LogSettings logSettings(const nlohmann::json& logConfig);

// go-units' RAMInBytes: "10m" is 10 MiB; "invalid size: 'x'" otherwise.
uint64_t parseRamSize(const std::string& text);

}  // namespace berth::bridge
