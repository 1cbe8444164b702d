// A client that sends one idempotent GET over and over, each on a fresh connection, and counts
// what went wrong. Only one kind of miss is forgiven, and it is counted: a connection reset
// before any response byte (what a client sees when the API process holding its connection is
// killed -9), retried once, as a client may retry an idempotent request (RFC 9110 9.2.2). A
// timeout, a refusal, a wrong answer or a failed retry are failures.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "tests/support/http_client.h"

namespace berth::test {

class RequestLoop {
 public:
  // `accept` says whether a complete answer is the right one; `timeoutMs` bounds each request,
  // the wait in the listening socket's backlog included.
  RequestLoop(std::string socket, std::string target, std::function<bool(const HttpResult&)> accept,
              int timeoutMs = 5000);
  ~RequestLoop() { finish(); }
  RequestLoop(const RequestLoop&) = delete;
  RequestLoop& operator=(const RequestLoop&) = delete;

  void finish();
  int total() const { return total_; }
  int refused() const { return refused_; }
  int failed() const { return failed_; }
  int resets() const { return resets_; }
  std::string failures() const;

 private:
  HttpResult get() const;
  bool answered(const HttpResult& r) const { return r.connected && r.complete && accept_(r); }
  void note(const char* what, const HttpResult& r);

  std::string socket_, target_;
  std::function<bool(const HttpResult&)> accept_;
  int timeoutMs_;
  std::atomic<bool> stop_{false};
  std::atomic<int> total_{0}, refused_{0}, failed_{0}, resets_{0};
  mutable std::mutex mutex_;
  std::string failures_;
  std::thread thread_;
};

// GET /_ping answered 200 "OK".
class PingLoop : public RequestLoop {
 public:
  explicit PingLoop(std::string socket, int timeoutMs = 5000)
      : RequestLoop(std::move(socket), "/_ping", [](const HttpResult& r) { return r.status == 200 && r.body == "OK"; },
                    timeoutMs) {}
};

}  // namespace berth::test
