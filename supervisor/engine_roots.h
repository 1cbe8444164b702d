// Preparing the engine's directories before any service starts, as dockerd does at start-up:
// the data root with safe permissions, the exec root, a fresh temp dir, the engine's identity,
// and the configuration of the containerd berth manages.
#pragma once

#include <string>

#include "common/config.h"

namespace berth::supervisor {

// Creates <data-root> and <exec-root> (0711), the ipc dir (0700), and the engine id.
void prepareRoots(const Config& config);

// Like dockerd's prepareTempDir: DOCKER_TMPDIR or <data-root>/tmp; a leftover temp dir is
// renamed aside and removed in the background, and a new empty one (0700) is created.
// Returns the temp dir's path.
std::string prepareTempDir(const Config& config);

// Writes <exec-root>/containerd/config.toml for the managed containerd: its root under the data
// root, its state and sockets under the exec root, and the CRI plugin off (berth is not a CRI
// server; cri-dockerd speaks to berth's Docker API instead).
std::string writeContainerdConfig(const Config& config);

}  // namespace berth::supervisor
