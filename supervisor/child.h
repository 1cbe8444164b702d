// One supervised child process: how to start it and where it stands. The supervisor's loop
// drives the state machine; this file only spawns and describes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <string>
#include <vector>

namespace berth::supervisor {

using SteadyClock = std::chrono::steady_clock;

enum class ChildState { starting, running, backoff, stopping, stopped };

struct ChildSpec {
  std::string name;               // containerd, images, ..., api
  std::vector<std::string> argv;  // argv[0] is the executable's path
  int stage = 0;                  // start order: a stage starts when every earlier stage is ready
  std::vector<int> passFds;       // handed over as fds 3.. with LISTEN_FDS/LISTEN_PID (sd_listen_fds)
  std::vector<std::string> fdNames;
  std::string readySocket;        // also ready when this unix socket accepts (containerd)
  std::chrono::milliseconds readyTimeout{10000};
  std::chrono::milliseconds stopTimeout{10000};
  bool watchdog = false;          // expects WATCHDOG=1 keep-alives (berth services)
  std::vector<std::string> env;   // NAME=value entries over the inherited ones of those names
};

struct ChildProcess {
  ChildSpec spec;
  ChildState state = ChildState::stopped;
  pid_t pid = 0;
  SteadyClock::time_point startedAt{};        // steady clock, for backoff decisions
  int64_t startedAtNano = 0;                   // wall clock, for status
  SteadyClock::time_point deadline{};          // readiness / kill / backoff deadline by state
  SteadyClock::time_point lastWatchdog{};
  std::chrono::milliseconds nextBackoff{0};
  bool servedSinceStart = false;               // became ready after its last start
  std::deque<SteadyClock::time_point> quickRestarts;  // immediate restarts within the last minute
  unsigned restarts = 0;
  std::string lastExit;
  bool restartAfterStop = false;               // a requested restart, not a shutdown
};

struct SpawnEnvironment {
  std::vector<std::string> base;  // inherited environment without the manager variables
  std::string notifySocket;
  std::chrono::microseconds watchdog{0};
};

// GLIBC_TUNABLES for a berth service: the inherited value (nullptr when unset) with malloc's
// per-thread caches turned off (glibc.malloc.tcache_count=0), unless it sets their size itself.
// Chunks a thread's cache holds count as in use, so after a burst every long-lived thread's
// cache kept pages its arena could otherwise give back (docs/performance.md, "Per-thread malloc caches off").
std::string serviceTunables(const char* inherited);

// Forks and execs the child in its own process group, with SIGKILL as its parent-death signal so
// it never outlives the supervisor unsupervised. Returns the pid; throws when fork fails. Exec failures show up as
// exit status 127 of the child.
pid_t spawnChild(const ChildSpec& spec, const SpawnEnvironment& env);

std::string describeExit(int waitStatus);

}  // namespace berth::supervisor
