// api_bench: GET /_ping round trips on one keep-alive connection through berth's API, beside
// the reference engine's when its address is given, then GET /containers/json with no container
// the same way. Without --host it starts its own engine.
//   api_bench [--host unix:///path/docker.sock] [--reference unix:///run/refengine/docker.sock]
//             [--requests N]
// With a reference the two engines take turns, 1,000 requests at a time and in the order ABBA
// (a steady drift then favours neither), so both meet the same CPU steal (it moves within
// seconds on these machines) and the same state of the host (a round trip of tens of
// microseconds is quicker on a busy host than on one whose CPUs have gone idle); each pair of
// turns' ratio is printed too. A third party takes its turn beside them: the floor, a forked
// process that answers each request with /_ping's answer and does nothing else, over a socket
// pair (the same two wake-ups per round trip, no engine work), so what the engines add to this
// host's round trip shows apart from it.
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "bench/bench_stats.h"
#include "tests/support/engine.h"

using namespace berth;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kWarmUp = 500;
constexpr int kTurn = 1000;

// One keep-alive connection that sends GET requests and checks each answer.
class PingConnection {
 public:
  explicit PingConnection(const std::string& host) : host_(host) {
    std::string path = host.rfind("unix://", 0) == 0 ? host.substr(7) : host;
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      std::perror(("connect " + path).c_str());
      if (fd_ >= 0) close(fd_);
      fd_ = -1;
    }
  }
  // An end of a socket pair (the floor's), owned from here on.
  PingConnection(std::string what, int fd) : host_(std::move(what)), fd_(fd) {}
  ~PingConnection() {
    if (fd_ >= 0) close(fd_);
  }
  PingConnection(const PingConnection&) = delete;
  PingConnection& operator=(const PingConnection&) = delete;

  bool connected() const { return fd_ >= 0; }

  // `n` round trips of GET `path`, each added to `into` when given; false on any failure or on an
  // answer other than 200 with `body` (trailing white space aside).
  bool roundTrips(const std::string& path, const std::string& body, int n, bench::Samples* into) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: docker\r\n\r\n";
    char chunk[4096];
    for (int i = 0; i < n; ++i) {
      auto start = Clock::now();
      if (send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return false;
      for (;;) {
        auto end = buf_.find("\r\n\r\n");
        if (end != std::string::npos) {
          auto length = contentLength(buf_.substr(0, end));
          if (!length) {
            std::fprintf(stderr, "api_bench: %s answered %s without a Content-Length\n", host_.c_str(), path.c_str());
            return false;
          }
          if (buf_.size() >= end + 4 + *length) {
            std::string got = buf_.substr(end + 4, *length);
            while (!got.empty() && std::isspace(static_cast<unsigned char>(got.back()))) got.pop_back();
            if (buf_.rfind("HTTP/1.1 200 ", 0) != 0 || got != body) {
              std::fprintf(stderr, "api_bench: %s answered %s with %s: %s\n", host_.c_str(), path.c_str(),
                           buf_.substr(0, buf_.find("\r\n")).c_str(), got.substr(0, 200).c_str());
              return false;
            }
            buf_.erase(0, end + 4 + *length);
            break;
          }
        }
        ssize_t got = read(fd_, chunk, sizeof chunk);
        if (got <= 0) return false;
        buf_.append(chunk, static_cast<size_t>(got));
      }
      if (into != nullptr) into->add(Clock::now() - start);
    }
    return true;
  }
  bool pings(int n, bench::Samples* into) { return roundTrips("/_ping", "OK", n, into); }

 private:
  static std::optional<size_t> contentLength(const std::string& head) {
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    auto at = lower.find("\r\ncontent-length:");
    if (at == std::string::npos) return std::nullopt;
    return static_cast<size_t>(std::strtoull(lower.c_str() + at + 17, nullptr, 10));
  }

  std::string host_;
  int fd_ = -1;
  std::string buf_;
};

// The floor's answering process: reads requests off `fd` and answers each with the bytes
// berth's /_ping answers with, until the other end closes. Its pid, or -1.
pid_t startFloor(int fd, int otherEnd) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  close(otherEnd);
  static const std::string answer =
      "HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nBuilder-Version: 1\r\nCache-Control: no-cache, no-store, "
      "must-revalidate\r\nContent-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\nDocker-Experimental: "
      "false\r\nOstype: linux\r\nPragma: no-cache\r\nServer: Docker/28.0.0 (linux)\r\n\r\nOK";
  std::string in;
  char chunk[4096];
  for (;;) {
    ssize_t got = read(fd, chunk, sizeof chunk);
    if (got <= 0) _exit(0);
    in.append(chunk, static_cast<size_t>(got));
    for (size_t end; (end = in.find("\r\n\r\n")) != std::string::npos;) {
      in.erase(0, end + 4);
      if (send(fd, answer.data(), answer.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(answer.size())) _exit(1);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string host, reference;
  int requests = 10000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--host") host = argv[i + 1];
    else if (a == "--reference") reference = argv[i + 1];
    else if (a == "--requests") requests = std::atoi(argv[i + 1]);
  }
  if (requests < 1) {
    std::fprintf(stderr, "api_bench: --requests wants a positive number\n");
    return 2;
  }
  std::unique_ptr<test::Engine> engine;
  if (host.empty()) {
    engine = std::make_unique<test::Engine>();
    host = engine->dockerHost();
  }
  PingConnection berth(host);
  std::optional<PingConnection> ref;
  if (!reference.empty()) ref.emplace(reference);
  auto berthFails = [] {
    std::fprintf(stderr, "api_bench: berth's round trips failed; no further figure printed\n");
    return 1;
  };
  if (!berth.connected() || !berth.pings(kWarmUp, nullptr)) return berthFails();
  bool refFailed = false;
  auto refFails = [&] {
    std::fprintf(stderr, "api_bench: the reference engine's round trips failed; no further figure for it\n");
    refFailed = true;
    ref.reset();
  };
  if (ref && (!ref->connected() || !ref->pings(kWarmUp, nullptr))) refFails();
  int pair[2];
  std::optional<PingConnection> bare;
  pid_t floorPid = -1;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0) {
    floorPid = startFloor(pair[1], pair[0]);
    close(pair[1]);
    bare.emplace("the floor's socket pair", pair[0]);
    if (floorPid < 0 || !bare->pings(kWarmUp, nullptr)) bare.reset();
  }
  if (!bare) std::fprintf(stderr, "api_bench: the floor's answering process failed; no floor printed\n");
  // Turns of GET `path` (answered with `body`) on berth, the reference and the floor; prints the
  // figures. False when berth failed.
  auto compare = [&](const std::string& what, const std::string& path, const std::string& body) {
    if (!berth.roundTrips(path, body, kWarmUp, nullptr)) return false;
    if (ref && !ref->roundTrips(path, body, kWarmUp, nullptr)) refFails();
    bench::Samples berthAll, refAll, floorAll;
    berthAll.what = what + " on " + host;
    refAll.what = what + " on " + reference;
    std::vector<double> turnRatios;
    for (int done = 0, turn = 0; done < requests; done += kTurn, ++turn) {
      int n = std::min(kTurn, requests - done);
      bench::Samples berthTurn, refTurn, floorTurn;
      berthTurn.what = refTurn.what = floorTurn.what = "a turn";
      bool berthFirst = turn % 2 == 0;
      if (berthFirst && !berth.roundTrips(path, body, n, &berthTurn)) return false;
      if (ref && !ref->roundTrips(path, body, n, &refTurn)) refFails();
      if (bare && !bare->pings(n, &floorTurn)) bare.reset();
      if (!berthFirst && !berth.roundTrips(path, body, n, &berthTurn)) return false;
      berthAll.micros.insert(berthAll.micros.end(), berthTurn.micros.begin(), berthTurn.micros.end());
      floorAll.micros.insert(floorAll.micros.end(), floorTurn.micros.begin(), floorTurn.micros.end());
      if (!ref) continue;
      refAll.micros.insert(refAll.micros.end(), refTurn.micros.begin(), refTurn.micros.end());
      turnRatios.push_back(berthTurn.percentile(50) / refTurn.percentile(50));
    }
    bench::printRow(what + " keep-alive, berth", berthAll.percentile(50), berthAll.percentile(99),
                    1e6 / berthAll.mean());
    if (ref) {
      bench::printRow(what + " keep-alive, reference dockerd", refAll.percentile(50), refAll.percentile(99),
                      1e6 / refAll.mean());
      std::printf("ratio berth/dockerd p50: %.2f (turns of %d, alternating:",
                  berthAll.percentile(50) / refAll.percentile(50), kTurn);
      for (double r : turnRatios) std::printf(" %.2f", r);
      std::printf(")\n");
    }
    if (bare) {
      // Whole when it never failed: a floor cut short is not printed.
      bench::printRow("floor: the same round trip to a process that only answers", floorAll.percentile(50),
                      floorAll.percentile(99), 1e6 / floorAll.mean());
      double f = floorAll.percentile(50);
      std::printf("berth above the floor: %.1f us (%.2f of the floor)", berthAll.percentile(50) - f,
                  berthAll.percentile(50) / f);
      if (ref) {
        std::printf("; dockerd above it: %.1f us; the floor alone is %.2f of dockerd's p50", refAll.percentile(50) - f,
                    f / refAll.percentile(50));
      }
      std::printf("\n");
    }
    return true;
  };
  bench::printHeader();
  if (!compare("GET /_ping", "/_ping", "OK")) return berthFails();
  // The list's answer is checked to be empty on both engines: a figure for a list with
  // containers in it would not be this one.
  if (!compare("GET /containers/json, empty", "/containers/json", "[]")) return berthFails();
  bare.reset();  // closes the pair: the answering process ends
  if (floorPid > 0) waitpid(floorPid, nullptr, 0);
  return refFailed ? 1 : 0;
}
