// The benchmarks' HTTP probe: server round trips of one GET, repeated on a keep-alive
// connection to an engine's unix socket, so that only the server's work is measured.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "bench/bench_stats.h"

namespace berth::bench {

// Server round trips of GET `path` on one keep-alive connection.
inline Samples getLatency(const std::string& host, const std::string& path, int requests) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, host.substr(7).c_str(), sizeof a.sun_path - 1);
  Samples s;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return s;
  }
  const std::string req = "GET /v1.41" + path + " HTTP/1.1\r\nHost: docker\r\n\r\n";
  for (int i = 0; i < requests; ++i) {
    auto start = std::chrono::steady_clock::now();
    if (write(fd, req.data(), req.size()) < 0) break;
    std::string buf;
    char chunk[65536];
    size_t need = std::string::npos;
    for (;;) {
      ssize_t n = read(fd, chunk, sizeof chunk);
      if (n <= 0) return s;
      buf.append(chunk, static_cast<size_t>(n));
      auto end = buf.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      if (need == std::string::npos) {
        auto cl = buf.find("Content-Length: ");
        if (cl != std::string::npos && cl < end) need = end + 4 + std::stoul(buf.substr(cl + 16));
      }
      if (need != std::string::npos ? buf.size() >= need : buf.rfind("0\r\n\r\n") == buf.size() - 5) break;
    }
    s.add(std::chrono::steady_clock::now() - start);
  }
  close(fd);
  return s;
}

}  // namespace berth::bench
