#include "tests/support/http_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace berth::test {

HttpResult rawRequest(const std::string& socketPath, const std::string& request, int timeoutMs) {
  HttpResult r;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socketPath.c_str(), sizeof addr.sun_path - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    r.connectErrno = errno;
    close(fd);
    return r;
  }
  r.connected = true;
  size_t off = 0;
  while (off < request.size()) {
    ssize_t n = send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string data;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  bool closed = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timedOut = true;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      r.timedOut = true;
      break;
    }
    char buf[65536];
    ssize_t n = ready < 0 ? -1 : recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      r.reset = errno == ECONNRESET || errno == EPIPE;
      break;
    }
    if (n == 0) {
      closed = true;
      break;
    }
    data.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (closed && data.empty()) r.reset = true;  // EOF before any byte: the peer went away
  auto end = data.find("\r\n\r\n");
  if (end == std::string::npos) {
    r.head = data;
    return r;
  }
  r.complete = closed;
  r.head = data.substr(0, end);
  r.body = data.substr(end + 4);
  if (r.head.rfind("HTTP/1.1 ", 0) == 0) r.status = std::atoi(r.head.c_str() + 9);
  return r;
}

HttpExchange::HttpExchange(const std::string& socketPath, const std::string& request) {
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socketPath.c_str(), sizeof addr.sun_path - 1);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    result_.connectErrno = errno;
    ended_ = true;
    return;
  }
  result_.connected = true;
  size_t off = 0;
  while (off < request.size()) {
    ssize_t n = send(fd_, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

HttpExchange::~HttpExchange() {
  if (fd_ >= 0) close(fd_);
}

bool HttpExchange::readSome(int timeoutMs) {
  if (ended_) return false;
  pollfd p{fd_, POLLIN, 0};
  int ready = poll(&p, 1, timeoutMs);
  if (ready == 0) return true;
  if (ready < 0) return errno == EINTR;
  char buf[65536];
  ssize_t n = recv(fd_, buf, sizeof buf, 0);
  if (n < 0) {
    result_.reset = errno == ECONNRESET || errno == EPIPE;
    ended_ = true;
    return false;
  }
  if (n == 0) {
    if (data_.empty()) result_.reset = true;
    result_.complete = data_.find("\r\n\r\n") != std::string::npos;
    ended_ = true;
    return false;
  }
  data_.append(buf, static_cast<size_t>(n));
  return true;
}

bool HttpExchange::waitForHead(int timeoutMs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (data_.find("\r\n\r\n") == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !readSome(static_cast<int>(left.count()))) return data_.find("\r\n\r\n") != std::string::npos;
  }
  return true;
}

std::string HttpExchange::bodySoFar(int timeoutMs) {
  readSome(timeoutMs);
  auto end = data_.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : data_.substr(end + 4);
}

HttpResult HttpExchange::finish(int timeoutMs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (!ended_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result_.timedOut = true;
      break;
    }
    readSome(static_cast<int>(left.count()));
  }
  HttpResult r = result_;
  auto end = data_.find("\r\n\r\n");
  if (end == std::string::npos) {
    r.head = data_;
    r.complete = false;
    return r;
  }
  r.head = data_.substr(0, end);
  r.body = data_.substr(end + 4);
  if (r.head.rfind("HTTP/1.1 ", 0) == 0) r.status = std::atoi(r.head.c_str() + 9);
  return r;
}

HttpResult httpRequest(const std::string& socketPath, const std::string& method, const std::string& target,
                       const std::string& body, const std::string& extraHeaders) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n" + extraHeaders;
  if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  return rawRequest(socketPath, req);
}

nlohmann::json bodyOf(const HttpResult& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_discarded() ? nlohmann::json("not JSON: " + r.body.substr(0, 200)) : j;
}

}  // namespace berth::test
