#include "services/api/http/http_server.h"

#include <poll.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <limits>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http.hpp>

#include "common/errors.h"

namespace berth::http {
namespace beasthttp = boost::beast::http;

std::string statusText(int status) {
  switch (status) {
    case 101: return "UPGRADED";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Request Entity Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

// Go's PathUnescape for paths ('+' is itself) and QueryUnescape for query strings ('+' is a
// space), as dockerd's router decodes them.
std::string percentDecode(std::string_view in, bool plusIsSpace) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (in[i] == '+' && plusIsSpace) {
      out += ' ';
    } else {
      out += in[i];
    }
  }
  return out;
}

std::optional<std::string> Request::queryValue(const std::string& key) const {
  for (const auto& [k, v] : query) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::string Request::header(const std::string& lowerName) const {
  auto it = headers.find(lowerName);
  return it == headers.end() ? std::string() : it->second;
}

ResponseWriter::ResponseWriter(ByteStream& stream, std::string leftover, bool head,
                               const std::vector<std::pair<std::string, std::string>>& commonHeaders,
                               const std::atomic<bool>* serverRunning)
    : stream_(stream),
      leftover_(std::move(leftover)),
      head_(head),
      commonHeaders_(commonHeaders),
      serverRunning_(serverRunning) {}

namespace {

// The Date header's value for now, formatted once a second per thread.
std::string_view httpDateNow() {
  thread_local time_t formattedAt = -1;
  thread_local char date[64];
  time_t now = time(nullptr);
  if (now != formattedAt) {
    tm gmt{};
    gmtime_r(&now, &gmt);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &gmt);
    formattedAt = now;
  }
  return date;
}

void appendHeader(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

std::string ResponseWriter::head(int status, const std::string& contentType, const std::string& framing,
                                 const std::vector<std::pair<std::string, std::string>>& extra) const {
  std::string out;
  out.reserve(512);
  out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(statusText(status)).append("\r\n");
  for (const auto& [k, v] : commonHeaders_) appendHeader(out, k, v);
  for (const auto& [k, v] : extra) appendHeader(out, k, v);
  if (!contentType.empty()) appendHeader(out, "Content-Type", contentType);
  appendHeader(out, "Date", httpDateNow());
  out += framing;
  out += "\r\n";
  return out;
}

void ResponseWriter::writeHead(int status, const std::string& contentType, const std::string& framing,
                               const std::vector<std::pair<std::string, std::string>>& extra) {
  stream_.write(head(status, contentType, framing, extra));
  started_ = true;
}

void ResponseWriter::send(int status, const std::string& contentType, const std::string& body,
                          const std::vector<std::pair<std::string, std::string>>& extraHeaders) {
  std::string framing = status == 204 || status == 304 ? "" : "Content-Length: " + std::to_string(body.size()) + "\r\n";
  // One write for head and body: a response is on its way whole or not at all, even if this
  // process is killed right after.
  std::string out = head(status, status == 204 ? "" : contentType, framing, extraHeaders);
  if (!head_ && !body.empty() && status != 204 && status != 304) out += body;
  stream_.write(out);
  started_ = true;
}

void ResponseWriter::json(int status, const nlohmann::json& body) {
  send(status, "application/json", body.dump() + "\n");
}

void ResponseWriter::error(int status, const std::string& message) {
  json(status, nlohmann::json{{"message", message}});
}

void ResponseWriter::startStream(int status, const std::string& contentType,
                                 const std::vector<std::pair<std::string, std::string>>& extraHeaders) {
  writeHead(status, contentType, "Transfer-Encoding: chunked\r\n", extraHeaders);
  streaming_ = true;
}

bool ResponseWriter::writeChunk(std::string_view data) {
  if (data.empty()) return true;
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  try {
    stream_.writeParts({size, data, "\r\n"});
    return true;
  } catch (const std::exception&) {
    keepAlive_ = false;
    return false;
  }
}

void ResponseWriter::endStream() {
  if (!streaming_) return;
  streaming_ = false;
  try {
    stream_.write("0\r\n\r\n");
  } catch (const std::exception&) {
    keepAlive_ = false;
  }
}

ByteStream& ResponseWriter::hijack(bool clientAskedUpgrade, const std::string& contentType) {
  if (clientAskedUpgrade) {
    writeHead(101, contentType, "Connection: Upgrade\r\nUpgrade: tcp\r\n", {});
  } else {
    writeHead(200, contentType, "", {});
  }
  hijacked_ = true;
  keepAlive_ = false;
  return stream_;
}

HttpServer::HttpServer(std::vector<Listener> listeners, Handler handler, ServerOptions options)
    : listeners_(std::move(listeners)), handler_(std::move(handler)), options_(std::move(options)) {}

HttpServer::~HttpServer() {
  if (!stop(std::chrono::milliseconds(0))) {
    // Connection threads still run and use this object: leaving now is the only safe exit.
    std::_Exit(0);
  }
}

void HttpServer::start() {
  running_ = true;
  for (const auto& l : listeners_) acceptors_.emplace_back([this, l] { acceptLoop(l); });
}

bool HttpServer::stop(std::chrono::milliseconds grace) {
  bool first;
  {
    std::lock_guard lock(connMutex_);
    first = running_.exchange(false);
  }
  if (first) {
    for (auto& t : acceptors_) t.join();
    acceptors_.clear();
  }
  std::unique_lock lock(connMutex_);
  for (auto& [id, c] : connections_) {
    if (c.idle && c.stream) c.stream->shutdownRead();
  }
  if (!connDone_.wait_for(lock, grace, [&] { return connections_.empty(); })) {
    for (auto& [id, c] : connections_) {
      if (c.stream) c.stream->shutdownRead();
    }
    connDone_.wait_for(lock, std::chrono::seconds(1), [&] { return connections_.empty(); });
  }
  if (!connections_.empty()) return false;
  lock.unlock();
  // Every connection is done: its thread is parked or ending. Wake the parked ones and wait
  // until none is left, since each uses this object until it ends.
  std::unique_lock threads(threadsMutex_);
  handedOff_.notify_all();
  return threadsDone_.wait_for(threads, std::chrono::seconds(1), [&] { return liveThreads_ == 0; });
}

void HttpServer::acceptLoop(Listener listener) {
  // Out of descriptors or memory (EMFILE under `ulimit -n`): pause and try again, with backoff
  // as Go's server does, instead of polling a readable listener in a tight loop; the clients
  // already connected go on being served.
  auto backoff = std::chrono::milliseconds(0);
  auto pause = [&] {
    backoff = backoff.count() == 0 ? std::chrono::milliseconds(5) : std::min(backoff * 2, std::chrono::milliseconds(1000));
    std::this_thread::sleep_for(backoff);
  };
  while (running_) {
    {
      // At the connection limit, new clients wait in the backlog until one ends.
      std::unique_lock lock(connMutex_);
      if (connections_.size() >= options_.maxConnections) {
        connDone_.wait_for(lock, std::chrono::milliseconds(200));
        continue;
      }
    }
    pollfd p{listener.fd, POLLIN, 0};
    int n = ::poll(&p, 1, 200);
    if (n <= 0 || !(p.revents & POLLIN)) continue;
    int fd = ::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        spdlog::warn("accept: {}; pausing {} ms", std::strerror(errno), std::max<long>(5, backoff.count() * 2));
        pause();
      }
      continue;  // otherwise another acceptor won, or the client gave up
    }
    backoff = std::chrono::milliseconds(0);
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    uint64_t id;
    {
      // Registered before its thread runs, so stop() waits for it.
      std::lock_guard lock(connMutex_);
      id = nextConnection_++;
      connections_[id] = Connection{};
    }
    SSL_CTX* tls = listener.tls;
    try {
      dispatch([this, fd, tls, id] {
        std::unique_ptr<ByteStream> stream;
        try {
          stream = tls ? makeTlsStream(fd, tls) : makeSocketStream(fd);
        } catch (const std::exception& e) {
          spdlog::info("connection refused: {}", e.what());
        }
        serveConnection(id, std::move(stream));
      });
    } catch (const std::system_error& e) {
      // No thread to be had (EAGAIN at the thread limit): this client is closed, the server
      // goes on; the ones already connected are unaffected.
      spdlog::warn("cannot start a connection thread: {}", e.what());
      ::close(fd);
      {
        std::lock_guard lock(connMutex_);
        connections_.erase(id);
      }
      connDone_.notify_all();
      pause();
    }
  }
}

namespace {
// Parked connection threads: after a burst at most this many wait for the next connection,
// each for at most this long, then end; an idle server keeps none.
constexpr size_t kMaxParkedThreads = 8;
constexpr auto kParkFor = std::chrono::seconds(10);
}  // namespace

void HttpServer::dispatch(std::function<void()> job) {
  {
    std::lock_guard lock(threadsMutex_);
    if (parkedThreads_ > jobs_.size()) {
      jobs_.push_back(std::move(job));
      handedOff_.notify_one();
      return;
    }
    ++liveThreads_;
  }
  try {
    std::thread([this, job = std::move(job)]() mutable { connectionThread(std::move(job)); }).detach();
  } catch (...) {
    std::lock_guard lock(threadsMutex_);
    --liveThreads_;
    throw;
  }
}

void HttpServer::connectionThread(std::function<void()> job) {
  std::unique_lock lock(threadsMutex_, std::defer_lock);
  for (;;) {
    job();
    job = nullptr;
    lock.lock();
    if (!running_ || parkedThreads_ >= kMaxParkedThreads) break;
    ++parkedThreads_;
    // A job handed to a parked thread is taken even by one whose wait has just timed out.
    handedOff_.wait_for(lock, kParkFor, [&] { return !jobs_.empty() || !running_; });
    --parkedThreads_;
    if (jobs_.empty()) break;
    job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
  }
  --liveThreads_;
  // Told once this thread has ended for good, so stop() can let the server be destroyed.
  std::notify_all_at_thread_exit(threadsDone_, std::move(lock));
}

void HttpServer::serve(std::unique_ptr<ByteStream> stream) {
  uint64_t id;
  {
    std::lock_guard lock(connMutex_);
    id = nextConnection_++;
    connections_[id] = Connection{};
  }
  serveConnection(id, std::move(stream));
}

void HttpServer::serveConnection(uint64_t id, std::unique_ptr<ByteStream> stream) {
  if (stream) {
    {
      std::lock_guard lock(connMutex_);
      connections_[id].stream = stream.get();
    }
    std::string buffer;
    try {
      for (bool first = true;; first = false) {
        if (!first) {
          std::lock_guard lock(connMutex_);
          if (!running_) break;  // answered its request; the server is stopping
          connections_[id].idle = true;
        }
        if (!serveOne(*stream, buffer, first, [&] {
              std::lock_guard lock(connMutex_);
              connections_[id].idle = false;
            })) {
          break;
        }
      }
    } catch (const std::exception& e) {
      spdlog::debug("connection closed: {}", e.what());
    }
  }
  std::lock_guard lock(connMutex_);
  connections_.erase(id);
  stream.reset();
  connDone_.notify_all();
}

// Reads and answers one request; false when the connection should close.
bool HttpServer::serveOne(ByteStream& stream, std::string& buffer, bool first,
                          const std::function<void()>& onRequestStart) {
  // buffer_body lets the body be drained into whatever buffer the consumer offers, so a
  // streamed upload (docker load) never sits whole in memory.
  beasthttp::request_parser<beasthttp::buffer_body> parser;
  parser.header_limit(static_cast<uint32_t>(options_.maxHeaderBytes));
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  char chunk[65536];
  boost::beast::error_code ec;
  bool started = !buffer.empty();
  if (started) onRequestStart();
  // The head's deadline: from the connection's start for its first request, from the first
  // byte for later ones; before that byte a kept-alive connection has the idle timeout.
  auto now = std::chrono::steady_clock::now();
  stream.setReadDeadline(started || first ? now + options_.headerTimeout : now + options_.idleTimeout);
  // Reads more bytes into `buffer`; false at end of stream.
  auto readMore = [&] {
    size_t n = stream.read(chunk, sizeof chunk);
    if (n == 0) return false;
    if (!started) {
      started = true;
      if (!first) stream.setReadDeadline(std::chrono::steady_clock::now() + options_.headerTimeout);
      onRequestStart();
    }
    buffer.append(chunk, n);
    return true;
  };

  ResponseWriter early(stream, "", false, options_.commonHeaders);
  while (!parser.is_header_done()) {
    if (!buffer.empty()) {
      size_t used = parser.put(boost::asio::buffer(buffer), ec);
      buffer.erase(0, used);
      if (!ec) continue;
      if (ec != beasthttp::error::need_more) {
        if (ec == beasthttp::error::header_limit) early.error(431, "request headers too large");
        else early.error(400, "malformed HTTP request: " + ec.message());
        return false;
      }
      ec = {};
    }
    if (!readMore()) return false;  // closed between requests (or mid-header: nothing to answer)
  }
  // The head is in: bodies (uploads of gigabytes) and hijacked streams have no deadline.
  stream.setReadDeadline(std::nullopt);

  auto& msg = parser.get();
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  req.versionMajor = msg.version() / 10;
  req.versionMinor = msg.version() % 10;
  std::string_view target = req.target;
  auto q = target.find('?');
  req.path = percentDecode(target.substr(0, q), false);
  if (q != std::string_view::npos) {
    std::string_view qs = target.substr(q + 1);
    while (!qs.empty()) {
      auto amp = qs.find('&');
      std::string_view pair = qs.substr(0, amp);
      auto eq = pair.find('=');
      if (!pair.empty()) {
        req.query.emplace_back(percentDecode(pair.substr(0, eq), true),
                               eq == std::string_view::npos ? "" : percentDecode(pair.substr(eq + 1), true));
      }
      if (amp == std::string_view::npos) break;
      qs.remove_prefix(amp + 1);
    }
  }
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    req.headers[name] = std::string(f.value());
  }
  bool keepAlive = msg.keep_alive();
  bool streamed = options_.streamsBody && options_.streamsBody(req);
  if (!streamed) {
    if (auto len = parser.content_length(); len && *len > options_.maxBodyBytes) {
      early.error(413, "request body of " + std::to_string(*len) + " bytes exceeds the limit of " +
                           std::to_string(options_.maxBodyBytes) + " bytes");
      return false;
    }
  }
  if (req.header("expect") == "100-continue") stream.write("HTTP/1.1 100 Continue\r\n\r\n");

  // Moves up to `cap` body bytes into `out`; 0 at the body's end. Throws on a broken body.
  bool bodyBroken = false;
  auto pump = [&](char* out, size_t cap) -> size_t {
    auto& body = parser.get().body();
    body.data = out;
    body.size = cap;
    body.more = true;
    // Fill the whole buffer (or reach the body's end): uploads travel on in big pieces even
    // when the client sends many small chunks.
    while (!parser.is_done() && body.size > 0) {
      if (!buffer.empty()) {
        size_t used = parser.put(boost::asio::buffer(buffer), ec);
        buffer.erase(0, used);
        if (ec == beasthttp::error::need_buffer) {
          ec = {};
          break;
        }
        if (ec && ec != beasthttp::error::need_more) {
          bodyBroken = true;
          throw Error(ErrorKind::invalid, "malformed HTTP request body: " + ec.message());
        }
        if (!ec) continue;
        ec = {};
      }
      if (!readMore()) {
        bodyBroken = true;
        throw Error(ErrorKind::invalid, "request body ended early");
      }
    }
    return cap - body.size;
  };

  if (!streamed) {
    char part[65536];
    try {
      while (size_t n = pump(part, sizeof part)) {
        req.body.append(part, n);
        if (req.body.size() > options_.maxBodyBytes) {
          early.error(413, "request body exceeds the limit of " + std::to_string(options_.maxBodyBytes) + " bytes");
          return false;
        }
      }
    } catch (const Error& e) {
      early.error(400, e.what());
      return false;
    }
  } else {
    req.readBody = pump;
  }

  // Bytes after a buffered request belong to the next request (or to a hijacked stream); a
  // streamed body is still being read from `buffer` by the handler, so it stays there.
  ResponseWriter writer(stream, streamed ? std::string() : std::move(buffer), req.method == "HEAD",
                        options_.commonHeaders, &running_);
  if (!streamed) buffer.clear();
  try {
    handler_(req, writer);
  } catch (const std::exception& e) {
    if (writer.started()) throw;
    spdlog::error("{} {}: {}", req.method, req.path, e.what());
    writer.error(500, e.what());
  }
  req.readBody = nullptr;
  if (!writer.started()) writer.error(500, "handler sent no response");
  if (writer.hijacked()) return false;
  if (!streamed) buffer = writer.takeLeftover();
  // An upload answered before it was read whole (a refusal: docker cp into a read-only root) is
  // read on, up to 256 KiB and for 2 s, as Go's net/http does for dockerd: a close while the
  // client is still sending fails its write, and the client may report that instead of the answer.
  if (streamed && !bodyBroken && !parser.is_done()) {
    constexpr size_t kMaxDrainBytes = 256 << 10;
    stream.setReadDeadline(std::chrono::steady_clock::now() + std::chrono::seconds(2));
    try {
      char sink[16384];
      size_t drained = 0;
      while (drained < kMaxDrainBytes) {
        size_t n = pump(sink, sizeof sink);
        if (n == 0) break;
        drained += n;
      }
    } catch (const std::exception&) {
      return false;
    }
    stream.setReadDeadline(std::nullopt);
  }
  // A streamed body the handler did not finish leaves the connection out of step: close it.
  if (streamed && (bodyBroken || !parser.is_done())) return false;
  return keepAlive && writer.keepAlive();
}

}  // namespace berth::http
