#include "tests/support/ping_loop.h"

#include <chrono>

namespace berth::test {

RequestLoop::RequestLoop(std::string socket, std::string target, std::function<bool(const HttpResult&)> accept,
                         int timeoutMs)
    : socket_(std::move(socket)), target_(std::move(target)), accept_(std::move(accept)), timeoutMs_(timeoutMs) {
  thread_ = std::thread([this] {
    while (!stop_) {
      auto r = get();
      ++total_;
      if (r.reset && r.head.empty()) {
        ++resets_;
        auto again = get();
        if (!answered(again)) note("retry", again);
      } else if (!answered(r)) {
        note("first", r);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
}

void RequestLoop::finish() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string RequestLoop::failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

HttpResult RequestLoop::get() const {
  return rawRequest(socket_, "GET " + target_ + " HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n", timeoutMs_);
}

void RequestLoop::note(const char* what, const HttpResult& r) {
  if (!r.connected) ++refused_;
  else ++failed_;
  std::lock_guard lock(mutex_);
  failures_ += "GET " + target_ + " (" + what + "): connected " + std::to_string(r.connected) + " timed out " +
               std::to_string(r.timedOut) + " reset " + std::to_string(r.reset) + " status " +
               std::to_string(r.status) + " head [" + r.head + "] body [" + r.body.substr(0, 400) + "]\n";
}

}  // namespace berth::test
