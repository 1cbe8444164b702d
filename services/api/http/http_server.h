// HTTP/1.1 for the Docker Engine API on listening sockets the process inherits (from berth's
// supervisor or from systemd, both through LISTEN_FDS). One thread per connection (a thread
// that ends one waits a few seconds for the next, so a fresh connection need not start one): requests
// are parsed with Boost.Beast's parser, bodies are bounded (413 before buffering), responses
// are plain, chunked-streamed, or the connection is hijacked into a raw stream (attach/exec).
#pragma once

#include <atomic>
#include <chrono>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "services/api/http/byte_stream.h"

namespace berth::http {

struct Request {
  std::string method;                  // "GET", "HEAD", ...
  std::string target;                  // as received, with query
  std::string path;                    // without query, percent-decoded
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::map<std::string, std::string> headers;              // keys lower-cased
  std::string body;
  int versionMajor = 1, versionMinor = 1;  // HTTP version
  std::map<std::string, std::string> params;  // filled by the router: {name} segments
  // The router's route for this request, once it matched it (ServerOptions::streamsBody asks
  // before the body is read): the dispatch then does not match it again.
  std::optional<size_t> routeIndex;
  std::string apiVersion;                     // "1.43": from the /vX.Y prefix, else berth's own
  // Set instead of `body` for routes that stream their body: moves up to `cap` bytes into
  // `out` and returns how many, 0 at the end; throws an invalid Error for a broken body.
  std::function<size_t(char* out, size_t cap)> readBody;

  std::optional<std::string> queryValue(const std::string& key) const;
  std::string header(const std::string& lowerName) const;
};

// How a handler answers. Exactly one of: send(), startStream() + writeChunk()s + endStream(),
// or hijack().
class ResponseWriter {
 public:
  // `commonHeaders` is the server's (ServerOptions::commonHeaders), which outlives every writer.
  ResponseWriter(ByteStream& stream, std::string leftover, bool head,
                 const std::vector<std::pair<std::string, std::string>>& commonHeaders,
                 const std::atomic<bool>* serverRunning = nullptr);

  void send(int status, const std::string& contentType, const std::string& body,
            const std::vector<std::pair<std::string, std::string>>& extraHeaders = {});
  void json(int status, const nlohmann::json& body);
  void error(int status, const std::string& message);  // dockerd's {"message": "..."}

  void startStream(int status, const std::string& contentType,
                   const std::vector<std::pair<std::string, std::string>>& extraHeaders = {});
  // False when the client has gone away.
  bool writeChunk(std::string_view data);
  void endStream();

  // Takes over the connection for a raw byte stream both ways. Answers `101 UPGRADED` when the
  // client asked for `Upgrade: tcp`, else `200 OK`, with Docker's raw-stream content type.
  // Bytes the client sent after the request are returned first by the stream's reads.
  ByteStream& hijack(bool clientAskedUpgrade, const std::string& contentType);
  std::string takeLeftover() { return std::move(leftover_); }

  bool started() const { return started_; }
  bool keepAlive() const { return keepAlive_; }
  bool hijacked() const { return hijacked_; }
  // True when the client has gone away or the server is stopping: long streams end then.
  bool clientGone() const { return (serverRunning_ && !*serverRunning_) || stream_.peerClosed(); }

 private:
  std::string head(int status, const std::string& contentType, const std::string& framing,
                   const std::vector<std::pair<std::string, std::string>>& extra) const;
  void writeHead(int status, const std::string& contentType, const std::string& framing,
                 const std::vector<std::pair<std::string, std::string>>& extra);

  ByteStream& stream_;
  std::string leftover_;
  bool head_;
  const std::vector<std::pair<std::string, std::string>>& commonHeaders_;
  const std::atomic<bool>* serverRunning_;
  bool started_ = false;
  bool streaming_ = false;
  bool hijacked_ = false;
  bool keepAlive_ = true;
};

using Handler = std::function<void(Request&, ResponseWriter&)>;

struct ServerOptions {
  size_t maxBodyBytes = 16 << 20;
  size_t maxHeaderBytes = 64 << 10;
  std::vector<std::pair<std::string, std::string>> commonHeaders;  // sent on every response
  // Requests for which this returns true get Request::readBody instead of a buffered body
  // bounded by maxBodyBytes (uploads such as docker load and import).
  // It may fill Request::params and Request::routeIndex.
  std::function<bool(Request&)> streamsBody;
  // A request's head must arrive within this of its connection's start (the first request) or
  // of its first byte (later ones): a client that sends a byte at a time cannot hold a thread.
  std::chrono::milliseconds headerTimeout = std::chrono::minutes(5);
  // A keep-alive connection with no request for this long is closed.
  std::chrono::milliseconds idleTimeout = std::chrono::minutes(10);
  // Connections served at once; beyond it, new ones wait in the listen backlog until one ends.
  size_t maxConnections = 4096;
};

class HttpServer {
 public:
  struct Listener {
    int fd;               // not owned: the supervisor (or systemd) owns the socket
    SSL_CTX* tls = nullptr;  // TLS for this listener when set
  };

  HttpServer(std::vector<Listener> listeners, Handler handler, ServerOptions options);
  ~HttpServer();

  void start();
  // Serves one connection that is already open, on the calling thread, as the accept loop's
  // threads do: until the client closes it or, after start(), until the server stops. For
  // callers that make their own streams (the HTTP fuzz target feeds requests from memory).
  void serve(std::unique_ptr<ByteStream> stream);
  // Stops accepting, unblocks idle connections, waits up to `grace` for handlers to finish.
  // False when some connection is still being served: the caller must not destroy what its
  // handlers use (berth-api exits at once then).
  bool stop(std::chrono::milliseconds grace);

 private:
  // A connection is idle while it waits for a request after having answered one: only those
  // are cut when the server stops; new and busy ones are answered first (as Go's Shutdown).
  struct Connection {
    ByteStream* stream = nullptr;
    bool idle = false;
  };

  void acceptLoop(Listener listener);
  // Runs `job` (a connection) on a parked connection thread, or on a new one; throws
  // std::system_error when no thread can be had.
  void dispatch(std::function<void()> job);
  // A connection thread: serves `job`, then waits a while for another (parking) instead of
  // ending, so a fresh connection costs a wake-up rather than a thread's start and end.
  void connectionThread(std::function<void()> job);
  void serveConnection(uint64_t id, std::unique_ptr<ByteStream> stream);
  // `first`: the connection's first request (its head's deadline runs from the start).
  bool serveOne(ByteStream& stream, std::string& buffer, bool first, const std::function<void()>& onRequestStart);

  std::vector<Listener> listeners_;
  Handler handler_;
  ServerOptions options_;
  std::atomic<bool> running_{false};
  std::vector<std::thread> acceptors_;
  std::mutex connMutex_;
  std::condition_variable connDone_;
  std::map<uint64_t, Connection> connections_;
  uint64_t nextConnection_ = 0;
  std::mutex threadsMutex_;
  std::condition_variable handedOff_;    // a job for a parked thread, or the server stopping
  std::condition_variable threadsDone_;  // a connection thread ended
  std::deque<std::function<void()>> jobs_;
  size_t parkedThreads_ = 0;  // waiting in connectionThread for a job
  size_t liveThreads_ = 0;    // connection threads that exist, parked or serving
};

std::string statusText(int status);
// Percent-decoding: `plusIsSpace` for query strings (Go's QueryUnescape), not for paths.
std::string percentDecode(std::string_view in, bool plusIsSpace);

}  // namespace berth::http
