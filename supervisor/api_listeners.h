// The API's listening sockets. The supervisor binds them (or takes them from systemd for
// fd://) and keeps them open for its whole life, handing copies to each berth-api process, so
// while the API restarts clients queue in the backlog instead of being refused.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "common/files.h"

namespace berth::supervisor {

struct ApiListener {
  UniqueFd fd;
  std::string name;      // for LISTEN_FDNAMES: the host as configured
  std::string unixPath;  // set for unix sockets we created (removed at shutdown)
};

// Binds every configured host. unix sockets get mode 0660 and the configured group when it
// exists. Throws naming the host on failure.
std::vector<ApiListener> bindApiListeners(const Config& config);

// Removes the unix socket files we created.
void removeApiSocketFiles(const std::vector<ApiListener>& listeners);

}  // namespace berth::supervisor
