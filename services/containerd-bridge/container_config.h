// Small pure pieces of Docker's container semantics that the containers core uses: signal
// names, string lists, the image-defaults merge dockerd does at
// create, and whether a config names a health check.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/time_format.h"  // humanDuration, for its users

namespace berth::bridge {

// "SIGTERM", "TERM", "15", "term": the signal number; invalid otherwise.
int parseSignal(const std::string& text);
// Docker's units.HumanDuration ("Less than a second", "3 minutes", "About an hour").
// The strings of a JSON array (other elements and non-arrays give nothing).
std::vector<std::string> stringsOf(const nlohmann::json& j);
// Docker's strslice: Cmd, Entrypoint and Shell may be given as one string, which is a list of
// that one string. Returns the config with those fields as lists.
nlohmann::json normaliseStringLists(nlohmann::json config);
// True when Config.Healthcheck names a probe (not absent, empty or ["NONE"]).
bool hasHealthCheck(const nlohmann::json& config);
// The probe's argv from Config.Healthcheck.Test; empty when there is none.
std::vector<std::string> healthProbeCommand(const nlohmann::json& config);
// dockerd's Config after create: the image's defaults merged under the container's.
nlohmann::json mergeImageConfig(nlohmann::json config, const nlohmann::json& imageConfig);

}  // namespace berth::bridge
