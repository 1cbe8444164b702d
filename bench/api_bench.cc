// api_bench: GET /_ping round trips on one keep-alive connection through berth's API, beside
// the reference engine's when its address is given. Without --host it starts its own engine.
//   api_bench [--host unix:///path/docker.sock] [--reference unix:///run/refengine/docker.sock]
//             [--requests N]
// With a reference the two engines take turns, 1,000 requests at a time and in the order ABBA
// (a steady drift then favours neither), so both meet the same CPU steal (it moves within
// seconds on these machines); each pair of turns' ratio is printed too.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
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

// One keep-alive connection that sends GET /_ping and checks each answer.
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
  ~PingConnection() {
    if (fd_ >= 0) close(fd_);
  }
  PingConnection(const PingConnection&) = delete;
  PingConnection& operator=(const PingConnection&) = delete;

  bool connected() const { return fd_ >= 0; }

  // `n` round trips, each added to `into` when given; false on any failure or wrong answer.
  bool pings(int n, bench::Samples* into) {
    static const std::string req = "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n";
    char chunk[4096];
    for (int i = 0; i < n; ++i) {
      auto start = Clock::now();
      if (send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return false;
      // A /_ping answer ends with its 2-byte body "OK" after the blank line.
      for (;;) {
        auto end = buf_.find("\r\n\r\n");
        if (end != std::string::npos && buf_.size() >= end + 6) {
          if (buf_.rfind("HTTP/1.1 200 ", 0) != 0 || buf_.compare(end + 4, 2, "OK") != 0) {
            std::fprintf(stderr, "api_bench: %s answered %s\n", host_.c_str(), buf_.substr(0, buf_.find("\r\n")).c_str());
            return false;
          }
          buf_.erase(0, end + 6);
          break;
        }
        ssize_t got = read(fd_, chunk, sizeof chunk);
        if (got <= 0) return false;
        buf_.append(chunk, static_cast<size_t>(got));
      }
      if (into != nullptr) into->add(Clock::now() - start);
    }
    return true;
  }

 private:
  std::string host_;
  int fd_ = -1;
  std::string buf_;
};

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
    std::fprintf(stderr, "api_bench: berth's ping loop failed; no figure printed\n");
    return 1;
  };
  if (!berth.connected() || !berth.pings(kWarmUp, nullptr)) return berthFails();
  bool refFailed = false;
  auto refFails = [&] {
    std::fprintf(stderr, "api_bench: the reference engine's ping loop failed; no figure for it\n");
    refFailed = true;
    ref.reset();
  };
  if (ref && (!ref->connected() || !ref->pings(kWarmUp, nullptr))) refFails();
  bench::Samples berthAll, refAll;
  berthAll.what = "GET /_ping on " + host;
  refAll.what = "GET /_ping on " + reference;
  std::vector<double> turnRatios;
  for (int done = 0, turn = 0; done < requests; done += kTurn, ++turn) {
    int n = std::min(kTurn, requests - done);
    bench::Samples berthTurn, refTurn;
    berthTurn.what = refTurn.what = "a turn";
    bool berthFirst = turn % 2 == 0;
    if (berthFirst && !berth.pings(n, &berthTurn)) return berthFails();
    if (ref && !ref->pings(n, &refTurn)) refFails();
    if (!berthFirst && !berth.pings(n, &berthTurn)) return berthFails();
    berthAll.micros.insert(berthAll.micros.end(), berthTurn.micros.begin(), berthTurn.micros.end());
    if (!ref) continue;
    refAll.micros.insert(refAll.micros.end(), refTurn.micros.begin(), refTurn.micros.end());
    turnRatios.push_back(berthTurn.percentile(50) / refTurn.percentile(50));
  }
  bench::printHeader();
  bench::printRow("GET /_ping keep-alive, berth", berthAll.percentile(50), berthAll.percentile(99), 1e6 / berthAll.mean());
  if (ref) {
    bench::printRow("GET /_ping keep-alive, reference dockerd", refAll.percentile(50), refAll.percentile(99),
                    1e6 / refAll.mean());
    std::printf("ratio berth/dockerd p50: %.2f (turns of %d, alternating:", berthAll.percentile(50) / refAll.percentile(50),
                kTurn);
    for (double r : turnRatios) std::printf(" %.2f", r);
    std::printf(")\n");
  }
  return refFailed ? 1 : 0;
}
