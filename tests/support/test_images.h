// Test images built locally from Debian's busybox-static: no test ever pulls from a public
// registry.
#pragma once

#include <string>

namespace berth::test {

// Writes a `docker save`-style archive of a busybox image tagged `tag` into `dir` and returns
// its path. `extraBytes` adds a second layer holding that many random bytes (for big loads).
std::string busyboxArchive(const std::string& dir, const std::string& tag, size_t extraBytes = 0);

}  // namespace berth::test
