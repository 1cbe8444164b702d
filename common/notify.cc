#include "common/notify.h"

#include <systemd/sd-daemon.h>

#include <chrono>

namespace berth {

Notifier::Notifier() = default;

Notifier::~Notifier() {
  stop_ = true;
  if (watchdog_.joinable()) watchdog_.join();
}

void Notifier::ready(const std::string& status) {
  sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%d", status.c_str(), static_cast<int>(getpid()));
}

void Notifier::status(const std::string& status) { sd_notifyf(0, "STATUS=%s", status.c_str()); }

void Notifier::stopping() { sd_notify(0, "STOPPING=1"); }

void Notifier::startWatchdog() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  watchdog_ = std::thread([this, usec] {
    auto interval = std::chrono::microseconds(usec / 2);
    auto next = std::chrono::steady_clock::now();
    while (!stop_) {
      if (std::chrono::steady_clock::now() >= next) {
        sd_notify(0, "WATCHDOG=1");
        next += interval;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
}

}  // namespace berth
