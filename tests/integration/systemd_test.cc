// The systemd unit set and the protocols it relies on, checked with systemd's own tools:
// systemd-analyze verify, socket activation (systemd-socket-activate), and sd_notify READY=1 /
// WATCHDOG=1 received on a NOTIFY_SOCKET the test listens on. No systemd runs as PID 1 here.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "common/config.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace berth::test {
namespace {

using namespace std::chrono_literals;

// A NOTIFY_SOCKET, as systemd offers one to a Type=notify service.
class NotifyListener {
 public:
  explicit NotifyListener(std::string path) : path_(std::move(path)) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  ~NotifyListener() { close(fd_); }
  const std::string& path() const { return path_; }

  // Collects messages until one contains `want` or the timeout passes.
  bool waitFor(const std::string& want, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      received_ += std::string(buf, static_cast<size_t>(n)) + "\n";
      if (std::string(buf, static_cast<size_t>(n)).find(want) != std::string::npos) return true;
    }
    return false;
  }
  const std::string& received() const { return received_; }

 private:
  std::string path_;
  int fd_;
  std::string received_;
};

std::vector<std::string> unitFiles() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(BERTH_UNIT_DIR)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(SystemdTest, SystemdAnalyzeVerifyPassesForEveryUnit) {
  auto files = unitFiles();
  ASSERT_EQ(files.size(), 8u);
  std::vector<std::string> argv = {"systemd-analyze", "verify", "--man=no"};
  argv.insert(argv.end(), files.begin(), files.end());
  auto r = run(argv, {}, 60s);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.err, "");
  // The check is not vacuous: a unit with a broken ExecStart fails it.
  TempDir dir;
  std::ofstream(dir.path() + "/broken.service") << "[Service]\nType=notify\nExecStart=relative/berth-images\n";
  r = run({"systemd-analyze", "verify", "--man=no", dir.path() + "/broken.service"}, {}, 60s);
  EXPECT_NE(r.exitCode, 0);
}

TEST(SystemdTest, TheUnitsRunTheServicesThisBuildProduces) {
  std::set<std::string> executables;
  for (const auto& f : unitFiles()) {
    std::ifstream in(f);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("ExecStart", 0) != 0) continue;
      std::string exe = line.substr(line.find('=') + 1);
      exe = exe.substr(0, exe.find(' '));
      EXPECT_EQ(access(exe.c_str(), X_OK), 0) << f << ": " << exe;
      executables.insert(std::filesystem::path(exe).filename());
    }
  }
  // Every service and the supervisor's preparation step are started by some unit.
  std::set<std::string> expected = {"berth-api", "berth-containerd-bridge", "berth-images", "berth-network",
                                    "berth-volumes", "berth-supervisor", "containerd"};
  EXPECT_EQ(executables, expected);
}

// The units start the services with malloc's per-thread caches off, as the supervisor does
// (a GLIBC_TUNABLES in the environment file replaces it: systemd lets EnvironmentFile= override
// Environment=, whatever their order).
TEST(SystemdTest, EveryServiceUnitTurnsMallocsPerThreadCachesOff) {
  int services = 0;
  for (const auto& f : unitFiles()) {
    std::string text = readText(f);
    auto exec = text.find("\nExecStart=");
    if (exec == std::string::npos) continue;  // the target and the socket
    std::string line = text.substr(exec + 11, text.find('\n', exec + 1) - exec - 11);
    std::string exe = std::filesystem::path(line.substr(0, line.find(' '))).filename();
    if (exe.rfind("berth-", 0) != 0) continue;  // containerd's unit: Go, not glibc's malloc
    ++services;
    EXPECT_NE(text.find("\nEnvironment=GLIBC_TUNABLES=glibc.malloc.tcache_count=0\n"), std::string::npos) << f;
  }
  EXPECT_EQ(services, 5);
}

TEST(SystemdTest, ASocketActivatedApiServesTheInheritedSocketAndSignalsReady) {
  TempDir dir("berth-sd");
  NotifyListener notify(dir.path() + "/notify.sock");
  std::string socket = dir.path() + "/docker.sock";
  Spawned api({"systemd-socket-activate", "-l", socket, "-E", "NOTIFY_SOCKET=" + notify.path(),
               binDir() + "/berth-api", "-H", "fd://", "--data-root", dir.path() + "/data", "--exec-root",
               dir.path() + "/run"},
              {}, dir.path() + "/api.log");
  for (int i = 0; i < 100 && !std::filesystem::exists(socket); ++i) std::this_thread::sleep_for(20ms);
  // The first connection starts berth-api; it is served, not refused.
  auto r = httpRequest(socket, "GET", "/_ping");
  EXPECT_EQ(r.status, 200) << readText(dir.path() + "/api.log");
  EXPECT_EQ(r.body, "OK");
  EXPECT_TRUE(notify.waitFor("READY=1", 5s)) << notify.received();
  api.signal(SIGTERM);
  auto status = api.wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

TEST(SystemdTest, ASupervisorStartedWithFdHostServesTheSocketSystemdPassed) {
  TempDir dir("berth-sd");
  NotifyListener notify(dir.path() + "/notify.sock");
  std::string socket = dir.path() + "/docker.sock";
  Spawned supervisor({"systemd-socket-activate", "-l", socket, "-E", "NOTIFY_SOCKET=" + notify.path(),
                      binDir() + "/berth-supervisor", "-H", "fd://", "--data-root", dir.path() + "/data",
                      "--exec-root", dir.path() + "/run", "--bridge", "none"},
                     {}, dir.path() + "/engine.log");
  for (int i = 0; i < 100 && !std::filesystem::exists(socket); ++i) std::this_thread::sleep_for(20ms);
  // The first connection starts the engine; its API answers on the socket systemd holds.
  auto r = httpRequest(socket, "GET", "/_ping");
  EXPECT_EQ(r.status, 200) << readText(dir.path() + "/engine.log");
  EXPECT_TRUE(notify.waitFor("READY=1", 30s)) << notify.received() << readText(dir.path() + "/engine.log");
  r = httpRequest(socket, "GET", "/v1.43/info");
  EXPECT_EQ(r.status, 200);
  supervisor.signal(SIGTERM);
  auto status = supervisor.wait(30s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << readText(dir.path() + "/engine.log");
}

TEST(SystemdTest, AServiceStartedAsSystemdWouldSignalsReadyKeepsItsWatchdogAndServes) {
  TempDir dir("berth-sd");
  NotifyListener notify(dir.path() + "/notify.sock");
  Config config = Config::parse({"x", "--data-root", dir.path() + "/data", "--exec-root", dir.path() + "/run"});
  auto args = config.toArgs();
  std::vector<std::string> argv = {binDir() + "/berth-images"};
  argv.insert(argv.end(), args.begin(), args.end());
  Spawned images(argv, {"NOTIFY_SOCKET=" + notify.path(), "WATCHDOG_USEC=400000"}, dir.path() + "/images.log");
  ASSERT_TRUE(notify.waitFor("READY=1", 5s)) << notify.received() << readText(dir.path() + "/images.log");
  EXPECT_TRUE(notify.waitFor("WATCHDOG=1", 2s)) << notify.received();
  zmq::context_t context;
  ipc::RpcClient client(context, config.serviceEndpoint("images"));
  auto reply = client.call(ipc::methods::health(), ipc::deadlineIn(2s));
  EXPECT_EQ(std::string(reply.get().getHealth().getService().cStr()), "images");
  EXPECT_EQ(static_cast<pid_t>(reply.get().getHealth().getPid()), images.pid());
  images.signal(SIGTERM);
  EXPECT_TRUE(notify.waitFor("STOPPING=1", 5s)) << notify.received();
  EXPECT_TRUE(images.wait(10s).has_value());
}

TEST(SystemdTest, PrepareOnlyLaysOutTheRootsAndContainerdsConfig) {
  TempDir dir("berth-sd");
  auto r = run({binDir() + "/berth-supervisor", "--prepare-only", "--data-root", dir.path() + "/data", "--exec-root",
                dir.path() + "/run"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::string toml = readText(dir.path() + "/run/containerd/config.toml");
  EXPECT_NE(toml.find("root = \"" + dir.path() + "/data/containerd\""), std::string::npos) << toml;
  EXPECT_NE(toml.find("address = \"" + dir.path() + "/run/containerd/containerd.sock\""), std::string::npos) << toml;
  EXPECT_NE(toml.find("io.containerd.grpc.v1.cri"), std::string::npos);
  EXPECT_EQ(readText(dir.path() + "/data/engine-id").size(), 37u);
  EXPECT_EQ(std::filesystem::status(dir.path() + "/data").permissions() & std::filesystem::perms::all,
            std::filesystem::perms(0711));
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() + "/data/tmp"));
}

}  // namespace
}  // namespace berth::test
