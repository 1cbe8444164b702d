// api_bench: GET /_ping round trips on one keep-alive connection through berth's API, beside
// the reference engine's when its address is given. Without --host it starts its own engine.
//   api_bench [--host unix:///path/docker.sock] [--reference unix:///run/refengine/docker.sock]
//             [--requests N]
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <optional>

#include "bench/bench_stats.h"
#include "tests/support/engine.h"

using namespace berth;
using Clock = std::chrono::steady_clock;

namespace {

std::optional<bench::Samples> pingLoop(const std::string& host, int requests) {
  std::string path = host.rfind("unix://", 0) == 0 ? host.substr(7) : host;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror(("connect " + path).c_str());
    return std::nullopt;
  }
  const std::string req = "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n";
  bench::Samples s;
  s.what = "GET /_ping on " + host;
  std::string buf;
  char chunk[4096];
  for (int i = 0; i < requests + 500; ++i) {
    auto start = Clock::now();
    if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) return std::nullopt;
    // A /_ping answer ends with its 2-byte body "OK" after the blank line.
    for (;;) {
      auto end = buf.find("\r\n\r\n");
      if (end != std::string::npos && buf.size() >= end + 6) {
        if (buf.rfind("HTTP/1.1 200 ", 0) != 0 || buf.compare(end + 4, 2, "OK") != 0) {
          std::fprintf(stderr, "api_bench: %s answered %s\n", host.c_str(), buf.substr(0, buf.find("\r\n")).c_str());
          return std::nullopt;
        }
        buf.erase(0, end + 6);
        break;
      }
      ssize_t n = read(fd, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buf.append(chunk, static_cast<size_t>(n));
    }
    if (i >= 500) s.add(Clock::now() - start);
  }
  close(fd);
  return s;
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
  std::unique_ptr<test::Engine> engine;
  if (host.empty()) {
    engine = std::make_unique<test::Engine>();
    host = engine->dockerHost();
  }
  bench::printHeader();
  auto berth = pingLoop(host, requests);
  if (!berth) {
    std::fprintf(stderr, "api_bench: berth's ping loop failed; no figure printed\n");
    return 1;
  }
  bench::printRow("GET /_ping keep-alive, berth", berth->percentile(50), berth->percentile(99), 1e6 / berth->mean());
  if (!reference.empty()) {
    auto ref = pingLoop(reference, requests);
    if (!ref) {
      std::fprintf(stderr, "api_bench: the reference engine's ping loop failed; no figure for it\n");
      return 1;
    }
    {
      bench::printRow("GET /_ping keep-alive, reference dockerd", ref->percentile(50), ref->percentile(99),
                      1e6 / ref->mean());
      std::printf("ratio berth/dockerd p50: %.2f\n", berth->percentile(50) / ref->percentile(50));
    }
  }
  return 0;
}
