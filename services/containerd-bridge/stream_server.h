// The bridge's byte streams: docker logs, attach and exec stdio, served on a unix socket next
// to the RPC endpoint (<exec-root>/ipc/containerd-bridge-streams.sock, mode 0600). Bulk,
// long-lived, two-way byte streams with backpressure do not fit request/reply messages, so
// they get a socket of their own (containerd does the same with fifos).
//
// Protocol, one stream per connection:
//   client -> bridge: one JSON line, the request (op "logs", "attach" or "exec" and options);
//   bridge -> client: one JSON line, {"ok": true, "tty": bool} or {"ok": false, "kind": K,
//                     "message": M}; then the stream in Docker's wire format (raw with a TTY,
//                     8-byte-framed without one) until the bridge closes it;
//   client -> bridge: after the request, the container's or exec's stdin; end-of-file (a
//                     half-close) closes stdin.
// Op "archive" (docker cp) hands the connection to berth-archive, which speaks the same first
// line (with "stat") and then a tar stream either way; see archive/main.cc.
// The caller (berth-api) is trusted as far as the RPC endpoint is: the request is validated.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "services/containerd-bridge/containers_core.h"

namespace berth::bridge {

class StreamServer {
 public:
  StreamServer(ContainersCore& containers, std::string socketPath, std::string archiveBinary);
  ~StreamServer();
  void start();
  void stop();

 private:
  void acceptLoop();
  void serve(int fd);
  void logs(int fd, const nlohmann::json& request);
  void attach(int fd, const nlohmann::json& request);
  void exec(int fd, const nlohmann::json& request);
  void archive(int fd, const nlohmann::json& request);

  ContainersCore& containers_;
  std::string path_;
  std::string archiveBinary_;
  int listenFd_ = -1;
  std::atomic<bool> running_{false};
  std::thread acceptor_;
};

}  // namespace berth::bridge
