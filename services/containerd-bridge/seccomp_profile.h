// The default seccomp profile berth gives containers, written for berth after Docker's: an
// allowlist (everything else fails with EPERM), `clone` without namespace flags, `clone3`
// failing with ENOSYS so libc falls back to `clone`, and the privileged system calls allowed
// only when the container holds the matching capability. Names are resolved with libseccomp;
// names it does not know are left out (32-bit x86 names stay: the profile covers x86, x32 and
// x86_64 processes).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace berth::bridge {

// The OCI `linux.seccomp` object for a container with `capabilities` ("CAP_SYS_ADMIN", ...).
nlohmann::json defaultSeccompProfile(const std::vector<std::string>& capabilities);

}  // namespace berth::bridge
