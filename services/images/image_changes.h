// `docker import --change` and `docker commit --change`: Dockerfile instructions applied to an
// image config (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace berth::images {

// Applies each change to `config` (the "config" object of an image config). Throws an invalid
// Error naming the change for an unknown instruction or malformed arguments.
void applyChanges(nlohmann::json& config, const std::vector<std::string>& changes);

}  // namespace berth::images
