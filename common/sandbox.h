// Least privilege for a service, applied once its setup is done: the capabilities it keeps and
// the system calls it may make (an allowlist). A refused call fails with EPERM and is logged on
// stderr (which the supervisor or journald keeps) with the call's name, so a filter that is too
// tight shows itself instead of failing silently.
//
// BERTH_SECCOMP=log in a service's environment turns refusal into the kernel's audit log
// (dmesg: "type=1326 … exe=… syscall=N"): every call is made, and each one outside the
// allowlist is logged. It is how a list is checked against a workload (docs/hardening.md).
#pragma once

#include <string>
#include <vector>

namespace berth::sandbox {

struct Policy {
  std::string service;               // "berth-images": names the process in the refusal's log line
  std::vector<int> capabilities;     // CAP_* kept; every other one leaves every set, bounding included
  std::vector<std::string> calls;    // allowed beyond ordinaryCalls()
  bool namespaces = false;           // may make and enter namespaces: clone3, clone with CLONE_NEW*
};

// Keeps `policy.capabilities` (effective, permitted, bounding; inheritable and ambient empty),
// sets no_new_privs and loads the filter on every thread. A program the service runs inherits
// both. Throws when the kernel refuses or a call's name is unknown.
void confine(const Policy& policy);

// For a program a confined service runs (berth-archive, berth-logger): it inherits the filter
// but not the handler, and without one a refused call would end it with SIGSYS. Installs the
// handler: a refused call fails with EPERM and is logged as "PROGRAM: seccomp refused NAME".
void logRefusals(const std::string& program);

// What every berth service needs: memory, files, sockets, polling, threads, signals, time.
// Nothing that mounts, traces, loads kernel code, runs a program or enters a namespace.
const std::vector<std::string>& ordinaryCalls();

}  // namespace berth::sandbox
