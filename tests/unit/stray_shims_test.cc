// A shim containerd lost track of is ended by the bridge's sweep together with the socket it
// listened on. A shim removes its socket (/run/containerd/s/<hash>) when it shuts down, never
// when it is killed, so each stray the sweep killed left a file there for good: a run of the
// chaos test left 19.
#include "services/containerd-bridge/stray_shims.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.h"
#include "tests/unit/core_fixture.h"

namespace berth::bridge {
namespace {

using namespace std::chrono_literals;

// A Unix socket of this process bound to `path` ("\0…" for an abstract name), listening or not.
class BoundSocket {
 public:
  BoundSocket(const std::string& path, bool listening) : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.data(), path.size());
    auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), size) != 0 || (listening && ::listen(fd_, 1) != 0)) {
      throw std::runtime_error("socket " + path + ": " + std::strerror(errno));
    }
  }
  ~BoundSocket() { ::close(fd_); }

 private:
  int fd_;
};

bool contains(const std::vector<std::string>& paths, const std::string& path) {
  return std::find(paths.begin(), paths.end(), path) != paths.end();
}

TEST(ListeningSocketPathsTest, NamesThePathsAProcessListensOnAndNoOtherSocket) {
  test::TempDir dir("berth-sockets");
  BoundSocket listening(dir.path() + "/listening.sock", true);
  BoundSocket bound(dir.path() + "/bound.sock", false);
  BoundSocket abstract(std::string(1, '\0') + "berth-test-" + std::to_string(::getpid()), true);
  BoundSocket spaced(dir.path() + "/a listening.sock", true);

  auto paths = listeningSocketPaths(::getpid());
  EXPECT_TRUE(contains(paths, dir.path() + "/listening.sock"));
  EXPECT_TRUE(contains(paths, dir.path() + "/a listening.sock")) << "a path is the rest of its line";
  EXPECT_FALSE(contains(paths, dir.path() + "/a"));
  EXPECT_FALSE(contains(paths, dir.path() + "/bound.sock"));
  for (const auto& p : paths) EXPECT_EQ(p.front(), '/') << p;
  // Another process's table: none of this process's sockets are its (once it has exec'd, which
  // closed its copies).
  test::Spawned other({"sleep", "30"}, {}, dir.path() + "/sleep.log");
  auto comm = "/proc/" + std::to_string(other.pid()) + "/comm";
  for (int i = 0; i < 500 && test::readText(comm) != "sleep\n"; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(test::readText(comm), "sleep\n");
  EXPECT_FALSE(contains(listeningSocketPaths(other.pid()), dir.path() + "/listening.sock"));
}

class StrayShimsTest : public CoreFixture {};

TEST_F(StrayShimsTest, AShimContainerdLostTrackOfIsEndedWithTheSocketItListenedOn) {
  // A process named as containerd's shim is (comm "containerd-shim"), with a shim's command line
  // for this bridge's containerd socket and namespace, listening on a socket as a shim does.
  std::string id(64, 'c');
  std::string shimBinary = dir_.path() + "/containerd-shim-runc-v2";
  std::filesystem::create_symlink("/usr/bin/python3", shimBinary);
  std::string socketPath = dir_.path() + "/shim.sock";
  std::string containerdSocket = dir_.path() + "/containerd.sock";
  test::Spawned shim({shimBinary, "-c",
                      "import socket, sys, time\n"
                      "s = socket.socket(socket.AF_UNIX)\n"
                      "s.bind(sys.argv[-1])\n"
                      "s.listen()\n"
                      "time.sleep(60)\n",
                      "-namespace", "berth", "-id", id, "-address", containerdSocket, socketPath},
                     {}, dir_.path() + "/shim.log");
  ASSERT_TRUE(waitUntil([&] { return contains(listeningSocketPaths(shim.pid()), socketPath); }, 10s))
      << test::readText(dir_.path() + "/shim.log");
  auto found = findShims(containerdSocket, "berth");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].pid, shim.pid());

  // A bridge over that socket: no record and no task stands for the shim, so its first sweep
  // ends it.
  containerdSocket_ = containerdSocket;
  restartBridge();
  auto status = shim.wait(10s);
  ASSERT_TRUE(status.has_value()) << "the sweep did not end the stray shim";
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
  EXPECT_TRUE(waitUntil([&] { return !std::filesystem::exists(std::filesystem::symlink_status(socketPath)); }))
      << socketPath << " outlived the shim that listened on it";
}

TEST(ShimSocketPathTest, IsContainerdsSha256OfItsSocketNamespaceAndId) {
  // sha256("/run/berth/containerd/containerd.sock/berth/" + 64 × 'c'), computed apart (Python's
  // hashlib), the name containerd's SocketAddress gives.
  std::string expected = "/run/containerd/s/34a577a99bdf5f9609a13c31617fe44dfba9726ca50015c8606d8c501ebc9699";
  EXPECT_EQ(shimSocketPath("/run/berth/containerd/containerd.sock", "berth", std::string(64, 'c')), expected);
  EXPECT_EQ(shimSocketPath("/run/berth/containerd/containerd.sock/", "berth", std::string(64, 'c')), expected);
  EXPECT_EQ(shimSocketPath("/run//berth/./containerd/containerd.sock", "berth", std::string(64, 'c')), expected);
}

TEST_F(StrayShimsTest, ARemovalTakesTheSocketACutShimStartLeftAndNeverALiveOne) {
  // containerd kills its shim's start helper when the bridge's Tasks.Create goes away: the
  // helper has bound the shim's socket, and nothing is left to remove it. Such a socket (bound,
  // then closed) for one container, and a live listener's for another.
  containerdSocket_ = dir_.path() + "/containerd.sock";
  restartBridge();
  std::string cut = create(), live = create();
  std::string cutPath = shimSocketPath(containerdSocket_, "berth", cut);
  std::string livePath = shimSocketPath(containerdSocket_, "berth", live);
  // The directory is every containerd's on the machine: nothing of this test stays there,
  // whichever way it ends.
  struct RemoveAtEnd {
    std::vector<std::string> paths;
    ~RemoveAtEnd() {
      std::error_code ec;
      for (const auto& p : paths) std::filesystem::remove(p, ec);
    }
  } removeAtEnd{{cutPath, livePath}};
  std::filesystem::create_directories("/run/containerd/s");
  { BoundSocket bound(cutPath, false); }
  ASSERT_TRUE(std::filesystem::is_socket(std::filesystem::symlink_status(cutPath)));
  {
    BoundSocket listening(livePath, true);
    core_->remove(cut, true, false, soon());
    core_->remove(live, true, false, soon());
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(cutPath)));
    EXPECT_TRUE(std::filesystem::is_socket(std::filesystem::symlink_status(livePath)));
  }
}

}  // namespace
}  // namespace berth::bridge
