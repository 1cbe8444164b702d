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
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[65536];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      r.complete = n == 0;
      break;
    }
    data.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  auto end = data.find("\r\n\r\n");
  if (end == std::string::npos) {
    r.complete = false;
    r.head = data;
    return r;
  }
  r.head = data.substr(0, end);
  r.body = data.substr(end + 4);
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

}  // namespace berth::test
