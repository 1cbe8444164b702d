// systemd's service protocols, spoken the same way to systemd and to berth's supervisor (which
// listens on the NOTIFY_SOCKET it hands its children and passes sockets as systemd does):
// readiness and status (sd_notify), the watchdog, and inherited listening sockets
// (sd_listen_fds). These are the protocols systemd documents as stable for programs that do not
// link libsystemd (sd_notify(3), sd_listen_fds(3), sd_watchdog_enabled(3)); speaking them here
// keeps libsystemd and the five libraries it brings out of every process, 1.5 MB of PSS
// (docs/performance.md, "systemd's protocols without libsystemd").
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

namespace berth {

// The first descriptor a manager passes (SD_LISTEN_FDS_START).
constexpr int kListenFdsStart = 3;

// The number of listening sockets this process was passed (at kListenFdsStart on): LISTEN_FDS
// when LISTEN_PID is this process, else 0. Marks them close-on-exec and removes LISTEN_PID,
// LISTEN_FDS and LISTEN_FDNAMES from the environment, as sd_listen_fds(1) does, so no child
// takes them for its own. Not thread-safe (it changes the environment): call it at start.
int takeListenFds();

// Sends `state` (newline-separated assignments) to NOTIFY_SOCKET: a path, or an abstract name
// written with a leading '@'. False when there is none or the datagram could not be sent.
bool notifyManager(const std::string& state);

// The watchdog interval the manager asked for: WATCHDOG_USEC when WATCHDOG_PID is unset or this
// process; nullopt when none.
std::optional<std::chrono::microseconds> watchdogInterval();

class Notifier {
 public:
  Notifier();
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void ready(const std::string& status);
  void status(const std::string& status);
  void stopping();

  // Starts a thread that sends WATCHDOG=1 at half the interval our manager asked for
  // (WATCHDOG_USEC); does nothing when no watchdog is enabled.
  void startWatchdog();

 private:
  std::atomic<bool> stop_{false};
  std::thread watchdog_;
};

}  // namespace berth
