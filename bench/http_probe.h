// The benchmarks' HTTP probe: server round trips of one request, repeated on a keep-alive
// connection to an engine's unix socket, so that only the server's work is measured. Every
// response must be a whole "200 OK"; anything else throws, naming what came back.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>

#include "bench/bench_stats.h"

namespace berth::bench {

// A connection to an engine's unix socket (`host` is unix://PATH), closed when it goes out of
// scope; `what` names the probe in the error when it cannot connect.
struct UnixConnection {
  int fd;
  UnixConnection(const std::string& host, const std::string& what) : fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, host.substr(7).c_str(), sizeof a.sun_path - 1);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      std::string why = std::strerror(errno);
      if (fd >= 0) close(fd);
      throw std::runtime_error(what + ": connect: " + why);
    }
  }
  ~UnixConnection() { close(fd); }
  UnixConnection(const UnixConnection&) = delete;
  UnixConnection& operator=(const UnixConnection&) = delete;
};

// Server round trips of `method path` (with a JSON `body` when not empty; `bodyFor(i)` when
// given is the i-th request's body instead) on one keep-alive connection, each answered `status`:
// exactly `requests` samples, or an exception.
inline Samples requestLatency(const std::string& host, const std::string& method, const std::string& path,
                              const std::string& body, int requests, const std::string& status = "200",
                              const std::function<std::string(int)>& bodyFor = {}) {
  Samples s;
  s.what = method + " " + path + " on " + host;
  UnixConnection connection(host, s.what);
  int fd = connection.fd;
  auto requestFor = [&](int i) {
    std::string req = method + " /v1.41" + path + " HTTP/1.1\r\nHost: docker\r\n";
    std::string content = bodyFor ? bodyFor(i) : body;
    if (!content.empty()) {
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(content.size()) + "\r\n";
    }
    return req + "\r\n" + content;
  };
  std::string buf;  // bytes read past the end of the previous response
  for (int i = 0; i < requests; ++i) {
    const std::string req = requestFor(i);
    auto start = std::chrono::steady_clock::now();
    if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
      throw std::runtime_error(s.what + ": write failed on request " + std::to_string(i + 1));
    }
    char chunk[65536];
    size_t need = std::string::npos;
    for (;;) {
      auto end = buf.find("\r\n\r\n");
      if (end != std::string::npos) {
        if (buf.rfind("HTTP/1.1 " + status + " ", 0) != 0) {
          throw std::runtime_error(s.what + ": request " + std::to_string(i + 1) + " answered " + buf.substr(0, buf.find("\r\n")));
        }
        if (need == std::string::npos) {
          auto cl = buf.find("Content-Length: ");
          if (cl != std::string::npos && cl < end) need = end + 4 + std::stoul(buf.substr(cl + 16));
        }
        if (need != std::string::npos && buf.size() >= need) {
          buf.erase(0, need);
          break;
        }
        // Chunked: the response ends with the zero-length chunk.
        if (need == std::string::npos) {
          auto last = buf.find("\r\n0\r\n\r\n", end);
          if (last != std::string::npos) {
            buf.erase(0, last + 7);
            break;
          }
        }
      }
      ssize_t n = read(fd, chunk, sizeof chunk);
      if (n <= 0) {
        throw std::runtime_error(s.what + ": connection ended during response " + std::to_string(i + 1));
      }
      buf.append(chunk, static_cast<size_t>(n));
    }
    s.add(std::chrono::steady_clock::now() - start);
  }
  return s;
}

// Server round trips of GET `path`.
inline Samples getLatency(const std::string& host, const std::string& path, int requests) {
  return requestLatency(host, "GET", path, "", requests);
}

// GET `path` on a fresh connection each time, as curl or a CLI makes it: connect, one request,
// the whole answer, close.
inline Samples freshGetLatency(const std::string& host, const std::string& path, int requests) {
  Samples s;
  s.what = "GET " + path + " on fresh connections to " + host;
  for (int i = 0; i < requests; ++i) {
    auto start = std::chrono::steady_clock::now();
    requestLatency(host, "GET", path, "", 1);
    s.add(std::chrono::steady_clock::now() - start);
  }
  return s;
}

// A streamed GET (a `docker save`): seconds from the request to the first byte of the body
// (past the headers and a chunk's size line), and to its end (the server closes: the request
// asks it to); `bodyBytes` is what came after the headers, chunk framing included. Anything
// but a "200 OK" throws.
struct StreamTiming {
  double firstByte = 0, total = 0;
  uint64_t bodyBytes = 0;
};
inline StreamTiming streamTiming(const std::string& host, const std::string& path) {
  std::string what = "GET " + path + " on " + host;
  UnixConnection connection(host, what);
  int fd = connection.fd;
  std::string req = "GET /v1.41" + path + " HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n";
  auto start = std::chrono::steady_clock::now();
  auto since = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) throw std::runtime_error(what + ": write failed");
  StreamTiming t;
  std::string head;
  size_t bodyStart = std::string::npos;
  char chunk[1 << 16];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(what + ": read: " + std::strerror(errno));
    if (n == 0) break;
    if (bodyStart == std::string::npos || t.firstByte == 0) {
      head.append(chunk, static_cast<size_t>(n));
      if (bodyStart == std::string::npos && (bodyStart = head.find("\r\n\r\n")) != std::string::npos) {
        if (head.rfind("HTTP/1.1 200 ", 0) != 0) throw std::runtime_error(what + ": answered " + head.substr(0, head.find("\r\n")));
        bodyStart += 4;
      }
      if (bodyStart != std::string::npos) {
        bool chunked = head.substr(0, bodyStart).find("chunked") != std::string::npos;
        size_t data = chunked ? head.find("\r\n", bodyStart) : bodyStart;
        if (data != std::string::npos && head.size() > data + (chunked ? 2 : 0)) t.firstByte = since();
        t.bodyBytes = head.size() - bodyStart;
        if (t.firstByte != 0) head.clear();
      }
    } else {
      t.bodyBytes += static_cast<uint64_t>(n);
    }
  }
  if (t.firstByte == 0) throw std::runtime_error(what + ": the answer ended before its body began");
  t.total = since();
  return t;
}

}  // namespace berth::bench
