// The sd_notify protocol, spoken the same way to systemd and to berth's supervisor (which
// listens on the NOTIFY_SOCKET it hands its children): READY=1, STATUS=, STOPPING=1 and
// watchdog keep-alives.
#pragma once

#include <atomic>
#include <string>
#include <thread>

namespace berth {

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
