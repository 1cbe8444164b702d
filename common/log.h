// Logging: spdlog to stderr, or straight to the journal with structured fields when the process
// runs under systemd (JOURNAL_STREAM names our stderr). Every record carries BERTH_SERVICE.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace berth {

// Installs the default logger for this process. `service` names the process (supervisor, api,
// images, ...); `level` is one of debug, info, warn, error, fatal.
void setupLogging(const std::string& service, const std::string& level);

}  // namespace berth
