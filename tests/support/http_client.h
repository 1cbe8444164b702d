// A minimal HTTP/1.1 client over a unix socket for tests that need to see the wire (status
// line, headers, refused connections) rather than what the docker CLI makes of it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace berth::test {

struct HttpResult {
  bool connected = false;  // false: connect() failed (connectErrno says why)
  int connectErrno = 0;
  bool complete = false;   // the server closed the connection after a response head
  bool timedOut = false;   // the deadline passed with the connection still open: never "no answer"
  bool reset = false;      // the server reset the connection (ECONNRESET) or closed it before any byte
  int status = 0;
  std::string head;        // status line and headers
  std::string body;        // raw (chunked framing left in place)
};

// Sends `request` verbatim on a new connection, reads until the server closes (the request
// should carry "Connection: close") or `timeoutMs` passes. Exactly one of complete, timedOut and
// reset holds when connected, unless the server closed after a partial head.
HttpResult rawRequest(const std::string& socketPath, const std::string& request, int timeoutMs = 5000);

// The response's body as JSON; a body that is not JSON becomes the string "not JSON: …" (its
// start), so a comparison with what a test expects fails and shows what came instead.
nlohmann::json bodyOf(const HttpResult& r);

// GET/HEAD/POST convenience: builds the request with Connection: close.
HttpResult httpRequest(const std::string& socketPath, const std::string& method, const std::string& target,
                       const std::string& body = "", const std::string& extraHeaders = "");

// A request whose response arrives over time (wait, events, stats, logs -f): the test sees the
// head arrive, acts, and then reads the rest, so an ordering it asserts is one it observed.
class HttpExchange {
 public:
  HttpExchange(const std::string& socketPath, const std::string& request);
  ~HttpExchange();
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;

  // True once the response head has arrived; false when `timeoutMs` passes or the server closes
  // or resets first.
  bool waitForHead(int timeoutMs);
  // Reads what arrives within `timeoutMs` (less when the connection ends) and returns the body
  // received so far, chunked framing left in place: for a stream the test follows as it goes.
  std::string bodySoFar(int timeoutMs);
  // Reads until the server closes or `timeoutMs` passes, and returns everything received, with
  // complete/timedOut/reset set as rawRequest sets them.
  HttpResult finish(int timeoutMs);

 private:
  // Reads what is available within `timeoutMs`; false once the connection ended.
  bool readSome(int timeoutMs);

  int fd_ = -1;
  HttpResult result_;
  std::string data_;
  bool ended_ = false;
};

}  // namespace berth::test
