#include "tests/support/registry.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <thread>

namespace berth::test {

int freeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

Registry::Registry(const std::string& user, const std::string& password) {
  host_ = "127.0.0.1:" + std::to_string(freeLoopbackPort());
  std::string config = "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: " + dir_.path() +
                       "/data\n  delete:\n    enabled: true\nhttp:\n  addr: " + host_ + "\n";
  if (!user.empty()) {
    auto r = run({"htpasswd", "-Bbn", user, password});
    if (r.exitCode != 0) throw std::runtime_error("htpasswd: " + r.err);
    std::ofstream(dir_.path() + "/htpasswd") << r.out;
    config += "auth:\n  htpasswd:\n    realm: berth-test\n    path: " + dir_.path() + "/htpasswd\n";
  }
  std::ofstream(dir_.path() + "/config.yml") << config;
  process_ = std::make_unique<Spawned>(std::vector<std::string>{"docker-registry", "serve", dir_.path() + "/config.yml"},
                                       std::vector<std::string>{}, dir_.path() + "/registry.log");
  for (int i = 0; i < 200; ++i) {
    auto r = run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://" + host_ + "/v2/"}, {},
                 std::chrono::seconds(5));
    if (r.out == "200" || r.out == "401") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  throw std::runtime_error("docker-registry did not start: " + readText(dir_.path() + "/registry.log"));
}

Registry::~Registry() {
  process_->signal(SIGTERM);
  if (!process_->wait(std::chrono::seconds(10))) process_->signal(SIGKILL);
}

}  // namespace berth::test
