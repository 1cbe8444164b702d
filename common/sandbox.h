// Least privilege for a service, applied once its setup is done: the capabilities it holds and
// the system calls it may make. A refused call fails with EPERM and is logged on stderr (which
// the supervisor or journald keeps) with the call's name, so a filter that is too tight shows
// itself instead of failing silently.
#pragma once

#include <string>
#include <vector>

namespace berth::sandbox {

// Drops every capability: effective, permitted, inheritable, ambient and the bounding set.
// Throws when the kernel refuses.
void dropAllCapabilities();

// Sets no_new_privs and installs a seccomp filter (on every thread) that allows all calls but
// `denied`. Each denied call fails EPERM and writes "SERVICE: seccomp refused NAME (syscall N)"
// to stderr. Unknown names are an error.
void denySystemCalls(const std::string& service, const std::vector<std::string>& denied);

// What no service of berth but the ones that run containers needs: mounting, tracing, loading
// kernel code, executing programs, entering or making namespaces, and the like.
const std::vector<std::string>& privilegedCalls();

}  // namespace berth::sandbox
