// Volume names as dockerd's local driver takes them: [a-zA-Z0-9][a-zA-Z0-9_.-]+, with dockerd's
// words for a name that is not one; the random 64-hex name of an anonymous volume; and the
// label that marks an anonymous volume (moby 23+: what `docker volume prune` removes by default).
#pragma once

#include <string>

namespace berth::volumes {

// The label moby puts on a volume it named itself; berth stores it like any label.
constexpr const char* kAnonymousLabel = "com.docker.volume.anonymous";

// Throws invalid with dockerd's message (without the "create NAME: " that the caller adds):
// a one-character name is too short; any other name must match the pattern above.
void validateVolumeName(const std::string& name);

// 64 lower-case hex characters from the kernel's generator (moby's stringid.GenerateRandomID).
std::string randomVolumeName();

// Go's %q of a string: what dockerd's messages quote names with.
std::string goQuote(const std::string& s);

}  // namespace berth::volumes
