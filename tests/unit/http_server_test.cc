// The API's HTTP layer: keep-alive, bounded bodies, dockerd's version and routing errors,
// chunked streaming and the connection hijack that attach and exec use.
#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <thread>
#include <vector>

#include "common/errors.h"
#include "services/api/http/byte_stream.h"
#include "services/api/http/http_server.h"
#include "services/api/router.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace berth {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/api.sock";
    listenFd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(listenFd_, 64), 0);

    router_.add("GET", "/_ping", [](http::Request&, http::ResponseWriter& out) { out.send(200, "text/plain", "OK"); });
    router_.add("POST", "/echo", [](http::Request& req, http::ResponseWriter& out) {
      out.send(200, "text/plain", req.body);
    });
    router_.add("GET", "/things/{id}/json", [](http::Request& req, http::ResponseWriter& out) {
      if (req.params["id"] == "taken") throw Error(ErrorKind::conflict, "thing is in use");
      out.json(200, {{"id", req.params["id"]}, {"api", req.apiVersion}});
    });
    router_.add("POST", "/typed", [](http::Request& req, http::ResponseWriter& out) {
      bool detach = nlohmann::json::parse(req.body).value("Detach", false);
      out.send(200, "text/plain", detach ? "detached" : "attached");
    });
    router_.add("GET", "/thread", [](http::Request& req, http::ResponseWriter& out) {
      if (req.queryValue("sleep")) std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(*req.queryValue("sleep"))));
      out.send(200, "text/plain", std::to_string(::gettid()));  // the kernel's id: never the same for a new thread
    });
    router_.add("GET", "/stream", [](http::Request&, http::ResponseWriter& out) {
      out.startStream(200, "application/json");
      for (int i = 0; i < 3; ++i) out.writeChunk("{\"n\":" + std::to_string(i) + "}\n");
      out.endStream();
    });
    router_.add("POST", "/hijack", [](http::Request& req, http::ResponseWriter& out) {
      std::string pending = out.takeLeftover();
      auto& raw = out.hijack(req.header("upgrade") == "tcp", "application/vnd.docker.raw-stream");
      auto shout = [&](std::string s) {
        for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        raw.write(s);
      };
      if (!pending.empty()) shout(pending);
      char buf[1024];
      while (size_t n = raw.read(buf, sizeof buf)) shout(std::string(buf, n));
      raw.closeWrite();
    });
    router_.add("GET", "/images/{name*}/json", [](http::Request& req, http::ResponseWriter& out) {
      out.send(200, "text/plain", req.params["name"] + "|" + req.queryValue("q").value_or(""));
    });
    router_.add(
        "POST", "/upload",
        [](http::Request& req, http::ResponseWriter& out) {
          std::vector<char> buf(100000);
          size_t total = 0, sum = 0;
          while (size_t n = req.readBody(buf.data(), buf.size())) {
            total += n;
            for (size_t i = 0; i < n; ++i) sum += static_cast<unsigned char>(buf[i]);
          }
          out.send(200, "text/plain", std::to_string(total) + " " + std::to_string(sum));
        },
        true);
    http::ServerOptions options;
    options.maxBodyBytes = 4096;
    options.headerTimeout = std::chrono::milliseconds(1500);
    options.idleTimeout = std::chrono::milliseconds(1500);
    options.streamsBody = [this](http::Request& req) { return router_.streamsBody(req); };
    options.commonHeaders = {{"Api-Version", api::kApiVersion}};
    server_ = std::make_unique<http::HttpServer>(
        std::vector<http::HttpServer::Listener>{{listenFd_, nullptr}},
        [this](http::Request& req, http::ResponseWriter& out) { router_.dispatch(req, out); }, options);
    server_->start();
  }

  void TearDown() override {
    server_->stop(std::chrono::seconds(2));
    close(listenFd_);
  }

  int connectRaw() {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    return fd;
  }

  static std::string readAll(int fd) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }

  test::TempDir dir_{"berth-http"};
  std::string path_;
  int listenFd_ = -1;
  api::Router router_;
  std::unique_ptr<http::HttpServer> server_;
};

TEST_F(HttpServerTest, TwoRequestsOnOneKeepAliveConnectionAreBothAnswered) {
  int fd = connectRaw();
  std::string reqs = "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\nGET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(write(fd, reqs.data(), reqs.size()), static_cast<ssize_t>(reqs.size()));
  std::string out = readAll(fd);
  close(fd);
  size_t first = out.find("HTTP/1.1 200 OK");
  ASSERT_NE(first, std::string::npos) << out;
  EXPECT_NE(out.find("HTTP/1.1 200 OK", first + 1), std::string::npos) << out;
  EXPECT_NE(out.find("Api-Version: 1.43"), std::string::npos);
}

TEST_F(HttpServerTest, ABodyOverTheLimitIsRefusedWith413BeforeItIsSent) {
  // Only the headers go out: the answer must come without the server waiting for 100 MB.
  auto r = test::rawRequest(path_, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n", 2000);
  EXPECT_EQ(r.status, 413) << r.head;
  EXPECT_NE(r.body.find("exceeds the limit"), std::string::npos) << r.body;
  // A chunked body that grows past the limit is cut off too.
  std::string chunk(3000, 'a');
  std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) req += "bb8\r\n" + chunk + "\r\n";
  req += "0\r\n\r\n";
  r = test::rawRequest(path_, req, 2000);
  EXPECT_EQ(r.status, 413) << r.head;
  // A body within the limit is delivered whole.
  r = test::httpRequest(path_, "POST", "/echo", "hello");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
}

TEST_F(HttpServerTest, AStreamingRouteReadsABodyFarBeyondTheBufferedLimit) {
  // 8 MB, chunked and with a content length, through a server that buffers at most 4 KB.
  std::string data(8 << 20, '\0');
  size_t sum = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>(i * 7 % 251);
    sum += static_cast<unsigned char>(data[i]);
  }
  auto r = test::rawRequest(path_, "POST /v1.43/upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
                                       std::to_string(data.size()) + "\r\n\r\n" + data, 10000);
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(r.body, std::to_string(data.size()) + " " + std::to_string(sum));
  std::string chunked;
  for (size_t off = 0; off < data.size(); off += 300000) {
    std::string part = data.substr(off, 300000);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", part.size());
    chunked += size + part + "\r\n";
  }
  chunked += "0\r\n\r\n";
  r = test::rawRequest(path_, "POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                  chunked, 10000);
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(r.body, std::to_string(data.size()) + " " + std::to_string(sum));
}

TEST_F(HttpServerTest, AGreedyParameterTakesNamesWithSlashes) {
  auto r = test::httpRequest(path_, "GET", "/v1.43/images/registry.local:5000/team/app:v1/json");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "registry.local:5000/team/app:v1|");
  r = test::httpRequest(path_, "GET", "/images/busybox/json");
  EXPECT_EQ(r.body, "busybox|");
  r = test::httpRequest(path_, "GET", "/images/json");
  EXPECT_EQ(r.status, 404);
}

// Go's url decoding, as dockerd's router has it: '+' is a plus in the path (PathUnescape) and a
// space in the query (QueryUnescape); %2B is a plus in both.
TEST_F(HttpServerTest, APlusIsAPlusInThePathAndASpaceInTheQuery) {
  auto r = test::httpRequest(path_, "GET", "/images/a+b%2Bc/json?q=x+y%2Bz");
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(r.body, "a+b+c|x y+z");
}

// A buffered body nesting deeper than any JSON berth reads is refused before the handler runs;
// a value of the wrong JSON type is the client's error.
TEST_F(HttpServerTest, DeeplyNestedBodiesAndWrongJsonTypesGet400) {
  auto r = test::httpRequest(path_, "POST", "/echo", std::string(200, '[') + std::string(200, ']'));
  EXPECT_EQ(r.status, 400) << r.head;
  EXPECT_NE(r.body.find("{\"message\":\"invalid JSON: nested deeper than 128 levels\"}"), std::string::npos) << r.body;
  r = test::httpRequest(path_, "POST", "/echo", std::string(128, '[') + std::string(128, ']'));
  EXPECT_EQ(r.status, 200) << r.head;
  r = test::httpRequest(path_, "POST", "/typed", R"({"Detach":"yes"})");
  EXPECT_EQ(r.status, 400) << r.head;
  EXPECT_NE(r.body.find("invalid JSON: [json.exception.type_error.302] type must be boolean, but is string"),
            std::string::npos)
      << r.body;
}

// Whether the server closed `fd` (end of stream or reset) within `within`, and what it sent.
std::pair<bool, std::string> closedWithin(int fd, std::chrono::milliseconds within) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + within;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 100};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return {true, got};
    got.append(buf, static_cast<size_t>(n));
  }
  return {false, got};
}

// A client that drips its request a byte at a time cannot hold a connection (and its thread)
// past the header deadline; one that connects and sends nothing neither; a kept-alive
// connection is closed after the idle timeout. The deadlines here are 1.5 s.
TEST_F(HttpServerTest, SlowHeadersAndIdleConnectionsAreClosedAtTheirDeadlines) {
  int drip = connectRaw();
  std::string request = "GET /_ping HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(200, 'p') + "\r\n\r\n";
  bool closedEarly = false;
  auto start = std::chrono::steady_clock::now();
  for (char c : request) {
    if (::send(drip, &c, 1, MSG_NOSIGNAL) != 1) {
      closedEarly = true;
      break;
    }
    if (closedWithin(drip, std::chrono::milliseconds(20)).first) {
      closedEarly = true;
      break;
    }
  }
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(closedEarly) << "the whole request was dripped in without the server closing";
  EXPECT_GE(took, std::chrono::milliseconds(1400));
  close(drip);

  int silent = connectRaw();
  auto [closed, sent] = closedWithin(silent, std::chrono::seconds(10));
  EXPECT_TRUE(closed) << "a connection that sent nothing was kept";
  EXPECT_EQ(sent, "");
  close(silent);

  int kept = connectRaw();
  std::string ping = "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(kept, ping.data(), ping.size(), MSG_NOSIGNAL), static_cast<ssize_t>(ping.size()));
  auto [closedAfterIdle, answer] = closedWithin(kept, std::chrono::seconds(10));
  EXPECT_NE(answer.find("HTTP/1.1 200 OK"), std::string::npos) << answer;
  EXPECT_TRUE(closedAfterIdle) << "an idle kept-alive connection was kept past the idle timeout";
  close(kept);
  // The server still answers.
  auto r = test::httpRequest(path_, "GET", "/_ping");
  EXPECT_EQ(r.status, 200);
}

TEST_F(HttpServerTest, MalformedRequestsGet400) {
  auto r = test::rawRequest(path_, "THIS IS NOT HTTP\r\n\r\n", 2000);
  EXPECT_EQ(r.status, 400) << r.head;
  EXPECT_NE(r.body.find("malformed HTTP request"), std::string::npos) << r.body;
}

TEST_F(HttpServerTest, VersionPrefixesAreCheckedAsDockerdDoes) {
  auto r = test::httpRequest(path_, "GET", "/v1.40/things/abc/json");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"api\":\"1.40\""), std::string::npos) << r.body;
  r = test::httpRequest(path_, "GET", "/v1.99/_ping");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("client version 1.99 is too new. Maximum supported API version is 1.43"), std::string::npos)
      << r.body;
  r = test::httpRequest(path_, "GET", "/v1.12/_ping");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("client version 1.12 is too old. Minimum supported API version is 1.24"), std::string::npos)
      << r.body;
}

TEST_F(HttpServerTest, UnknownRoutesAndMethodsGetDockerdsPageNotFound) {
  auto r = test::httpRequest(path_, "GET", "/v1.43/no/such/thing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "{\"message\":\"page not found\"}\n");
  r = test::httpRequest(path_, "DELETE", "/_ping");
  EXPECT_EQ(r.status, 404);
}

TEST_F(HttpServerTest, DomainErrorsMapToDockersStatusAndMessage) {
  auto r = test::httpRequest(path_, "GET", "/things/taken/json");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "{\"message\":\"thing is in use\"}\n");
}

TEST_F(HttpServerTest, StreamedResponsesAreChunked) {
  auto r = test::httpRequest(path_, "GET", "/stream");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.head.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_EQ(r.body, "8\r\n{\"n\":0}\n\r\n8\r\n{\"n\":1}\n\r\n8\r\n{\"n\":2}\n\r\n0\r\n\r\n");
}

TEST_F(HttpServerTest, AHijackedConnectionCarriesRawBytesBothWays) {
  int fd = connectRaw();
  std::string req =
      "POST /hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\nearly ";
  ASSERT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  std::string more = "bytes";
  ASSERT_EQ(write(fd, more.data(), more.size()), 5);
  shutdown(fd, SHUT_WR);
  std::string out = readAll(fd);
  close(fd);
  EXPECT_EQ(out.rfind("HTTP/1.1 101 UPGRADED\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Content-Type: application/vnd.docker.raw-stream"), std::string::npos);
  EXPECT_NE(out.find("Upgrade: tcp"), std::string::npos);
  auto body = out.substr(out.find("\r\n\r\n") + 4);
  EXPECT_EQ(body, "EARLY BYTES");
}

size_t threadsOfThisProcess() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

TEST_F(HttpServerTest, AFreshConnectionIsServedByTheThreadTheLastOneEnded) {
  auto first = test::httpRequest(path_, "GET", "/thread");
  ASSERT_EQ(first.status, 200);
  for (int i = 0; i < 3; ++i) {
    // The thread ends its connection and parks just after the answer.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto next = test::httpRequest(path_, "GET", "/thread");
    ASSERT_EQ(next.status, 200);
    EXPECT_EQ(next.body, first.body) << "connection " << i + 2 << " had a thread of its own";
  }
}

TEST_F(HttpServerTest, ConnectionsBeyondTheParkedThreadsAreAllAnsweredAndStopEndsEveryThread) {
  size_t before = threadsOfThisProcess();  // with the acceptor
  // Two waves of 20 at once: the first starts threads, the second finds 8 parked and starts
  // the rest; every connection is answered.
  for (int wave = 0; wave < 2; ++wave) {
    std::vector<std::future<test::HttpResult>> calls;
    for (int i = 0; i < 20; ++i) {
      calls.push_back(std::async(std::launch::async, [&] { return test::httpRequest(path_, "GET", "/thread?sleep=100"); }));
    }
    for (auto& c : calls) EXPECT_EQ(c.get().status, 200);
  }
  // At most 8 wait for the next connection once the burst is over.
  EXPECT_TRUE(test::waitFor([&] { return threadsOfThisProcess() == before + 8; }, std::chrono::seconds(5)))
      << threadsOfThisProcess() - before << " connection threads left after the burst";
  EXPECT_TRUE(server_->stop(std::chrono::seconds(2)));
  // The acceptor and every parked thread have ended.
  EXPECT_TRUE(test::waitFor([&] { return threadsOfThisProcess() == before - 1; }, std::chrono::seconds(5)))
      << threadsOfThisProcess() << " threads after stop, " << before << " before";
}

// A pattern that shows where a byte went missing or came twice.
std::string patterned(size_t size) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  return out;
}

void ignoreSignal(int) {}

TEST(SocketStreamTest, PartsInterruptedPartWayArriveWholeAndInOrder) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  int small = 16 << 10;
  ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  auto writer = http::makeSocketStream(fds[0]);
  // A handler without SA_RESTART, so a signal cuts a send short: sendmsg then returns what it
  // sent so far (or fails with EINTR), and the rest must follow from where it stopped.
  struct sigaction action {}, previous{};
  action.sa_handler = ignoreSignal;
  ASSERT_EQ(::sigaction(SIGUSR1, &action, &previous), 0);
  std::string big = patterned(4 << 20);
  std::atomic<bool> written{false};
  std::promise<pthread_t> writerThread;
  std::string failure;
  std::thread writing([&] {
    writerThread.set_value(::pthread_self());
    try {
      writer->writeParts({"head:", big, "", ":tail"});
    } catch (const std::exception& e) {
      failure = e.what();
      writer->closeWrite();  // the reader sees the end instead of waiting for bytes that never come
    }
    written = true;
  });
  pthread_t target = writerThread.get_future().get();
  std::thread interrupting([&] {
    while (!written) {
      ::pthread_kill(target, SIGUSR1);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::string got;
  char buffer[8192];
  while (got.size() < big.size() + 10) {
    ssize_t n = ::read(fds[1], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buffer, static_cast<size_t>(n));
  }
  interrupting.join();  // first: it signals `writing`, which must still be a thread to signal
  writing.join();
  ::sigaction(SIGUSR1, &previous, nullptr);
  ::close(fds[1]);
  EXPECT_EQ(failure, "");
  EXPECT_EQ(got.size(), big.size() + 10);
  EXPECT_TRUE(got == "head:" + big + ":tail") << "the bytes differ from what was written";
}

// A stream that records each write it is given.
class RecordingStream final : public http::ByteStream {
 public:
  size_t read(char*, size_t) override { return 0; }
  void write(std::string_view data) override { writes.emplace_back(data); }
  void closeWrite() override {}
  void shutdownRead() override {}
  bool peerClosed() const override { return false; }
  int fd() const override { return -1; }
  std::vector<std::string> writes;
};

TEST(ByteStreamTest, SmallPartsLeaveInOneWriteAndALargeOneWithoutBeingJoined) {
  RecordingStream stream;
  stream.writeParts({"5\r\n", "hello", "\r\n"});
  EXPECT_EQ(stream.writes, std::vector<std::string>{"5\r\nhello\r\n"});
  stream.writes.clear();
  std::string big = patterned(1 << 20);
  stream.writeParts({"100000\r\n", big, "\r\n"});
  ASSERT_EQ(stream.writes.size(), 3u);
  EXPECT_EQ(stream.writes[0], "100000\r\n");
  EXPECT_TRUE(stream.writes[1] == big);
  EXPECT_EQ(stream.writes[2], "\r\n");
}

// The socket's receive timeout, in milliseconds.
long receiveTimeoutMillis(int fd) {
  timeval tv{};
  socklen_t len = sizeof tv;
  EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len), 0);
  return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void setReceiveTimeoutMillis(int fd, long millis) {
  timeval tv{millis / 1000, (millis % 1000) * 1000};
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
}

// A kept-alive connection's every wait arms the same idle deadline: the receive timeout is what is
// left of the deadline rounded up to 10 ms, set only when that changes, so a read ends at most
// 10 ms after its deadline and never before it.
TEST(ByteStreamTest, AReadsTimeoutIsTheDeadlineRoundedUpAndIsSetOnlyWhenThatChanges) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  int other = fds[1];
  auto stream = http::makeSocketStream(fds[0]);
  ASSERT_EQ(::write(other, "abcdefghijklmnopqrst", 20), 20);  // enough for five attempts and two reads
  char c;
  bool checked = false;
  // Both reads below must arm within 5 ms of the deadline's setting (left in (990, 995] ms, one
  // step); a host that stalled the test longer than that gets another attempt.
  for (int attempt = 0; attempt < 5 && !checked; ++attempt) {
    auto set = std::chrono::steady_clock::now();
    stream->setReadDeadline(set + std::chrono::milliseconds(995));
    ASSERT_EQ(stream->read(&c, 1), 1u);
    long first = receiveTimeoutMillis(fds[0]);
    setReceiveTimeoutMillis(fds[0], 7000);  // a marker: the next read leaves it unless it arms anew
    ASSERT_EQ(stream->read(&c, 1), 1u);
    if (std::chrono::steady_clock::now() - set >= std::chrono::milliseconds(5)) {
      // Too slow to tell: start the next attempt from no timeout at all, the marker gone.
      stream->setReadDeadline(std::nullopt);
      ASSERT_EQ(stream->read(&c, 1), 1u);
      continue;
    }
    EXPECT_EQ(first, 1000);
    EXPECT_EQ(receiveTimeoutMillis(fds[0]), 7000);
    checked = true;
  }
  ASSERT_TRUE(checked) << "no two reads within 5 ms of each other in five attempts";
  // Another deadline, another step: armed anew, rounded up.
  auto set = std::chrono::steady_clock::now();
  stream->setReadDeadline(set + std::chrono::milliseconds(333));
  ASSERT_EQ(stream->read(&c, 1), 1u);
  // (The kernel keeps the timeout in jiffies: up to 4 ms more, read back.)
  long armed = receiveTimeoutMillis(fds[0]);
  EXPECT_GE(
      armed,
      330 - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - set).count());
  EXPECT_LE(armed, 344);
  // No deadline: no timeout.
  stream->setReadDeadline(std::nullopt);
  ASSERT_EQ(stream->read(&c, 1), 1u);
  EXPECT_EQ(receiveTimeoutMillis(fds[0]), 0);
  // And a read that waits ends at its deadline, not before it and at most a step after it.
  int quiet[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, quiet), 0);
  auto waiting = http::makeSocketStream(quiet[0]);
  waiting->setReadDeadline(std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
  auto waited = std::chrono::steady_clock::now();
  EXPECT_THROW(waiting->read(&c, 1), Error);
  auto took = std::chrono::steady_clock::now() - waited;
  EXPECT_GE(took, std::chrono::milliseconds(100));
  EXPECT_LT(took, std::chrono::milliseconds(100) + http::ByteStream::kTimeoutStep + std::chrono::milliseconds(50));
  ::close(quiet[1]);
  ::close(other);
}

}  // namespace
}  // namespace berth
