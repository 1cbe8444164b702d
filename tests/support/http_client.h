// A minimal HTTP/1.1 client over a unix socket for tests that need to see the wire (status
// line, headers, refused connections) rather than what the docker CLI makes of it.
#pragma once

#include <string>

namespace berth::test {

struct HttpResult {
  bool connected = false;  // false: connect() failed (connectErrno says why)
  int connectErrno = 0;
  bool complete = false;   // a full response arrived
  int status = 0;
  std::string head;        // status line and headers
  std::string body;        // raw (chunked framing left in place)
};

// Sends `request` verbatim on a new connection, reads until the server closes (the request
// should carry "Connection: close") or `timeoutMs` passes.
HttpResult rawRequest(const std::string& socketPath, const std::string& request, int timeoutMs = 5000);

// GET/HEAD/POST convenience: builds the request with Connection: close.
HttpResult httpRequest(const std::string& socketPath, const std::string& method, const std::string& target,
                       const std::string& body = "", const std::string& extraHeaders = "");

}  // namespace berth::test
