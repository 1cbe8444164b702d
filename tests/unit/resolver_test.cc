// The resolver's two aardvark-dns slots (resolver.h) with Debian's real aardvark, in a network
// namespace of the test's own whose loopback holds the gateways' addresses. Queries go straight
// to a slot's port (the firewall's steering is firewall_test's), so each slot's answers are seen
// apart: the one that served keeps what it had, the one that takes over has the change. Every
// aardvark a test started is ended by it.
#include "services/network/resolver.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "services/network/ipam.h"
#include "tests/support/process.h"

namespace berth::network {
namespace {

constexpr const char* kAardvark = "/usr/lib/podman/aardvark-dns";
const uint32_t kGateway = parseIpv4("10.99.0.1");

// Runs `body` on a thread that unshared its network namespace, with loopback up and the
// gateway's address on it; false when unshare is not permitted.
bool inNamespaceWithGateway(const std::function<void()>& body) {
  int unshareErrno = 0;
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      unshareErrno = errno;
      return;
    }
    std::string netns = "/proc/" + std::to_string(::getpid()) + "/task/" + std::to_string(::gettid()) + "/ns/net";
    for (std::vector<std::string> args : {std::vector<std::string>{"link", "set", "lo", "up"},
                                          std::vector<std::string>{"addr", "add", "10.99.0.1/32", "dev", "lo"}}) {
      std::vector<std::string> argv = {"nsenter", "--net=" + netns, "ip"};
      argv.insert(argv.end(), args.begin(), args.end());
      auto r = test::run(argv);
      ASSERT_EQ(r.exitCode, 0) << r.err;
    }
    try {
      body();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "exception: " << e.what();
    }
  }).join();
  if (unshareErrno == EPERM) return false;
  EXPECT_EQ(unshareErrno, 0) << std::strerror(unshareErrno);
  return true;
}

// The IPv4 addresses of the A records answering `name` at kGateway:port; "refused" or
// "timeout" when there is no answer.
std::string lookup(const std::string& name, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "socket failed";
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(kGateway);
  std::string query("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
  query += static_cast<char>(name.size()) + name + std::string("\0\x00\x01\x00\x01", 5);
  std::string result;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 ||
      ::send(fd, query.data(), query.size(), 0) < 0) {
    result = "send failed";
  } else {
    pollfd p{fd, POLLIN, 0};
    unsigned char reply[512];
    ssize_t n = ::poll(&p, 1, 2000) > 0 ? ::recv(fd, reply, sizeof reply, 0) : -2;
    if (n == -2) {
      result = "timeout";
    } else if (n < 0) {
      result = errno == ECONNREFUSED ? "refused" : "recv failed";
    } else {
      // Past the header and the question (echoed as sent), each answer: a 2-byte pointer to
      // the name, type, class, TTL, length, data.
      size_t at = query.size();
      int answers = (reply[6] << 8) | reply[7];
      for (int i = 0; i < answers && at + 12 <= static_cast<size_t>(n); ++i) {
        int type = (reply[at + 2] << 8) | reply[at + 3];
        int length = (reply[at + 10] << 8) | reply[at + 11];
        at += 12;
        if (type == 1 && length == 4 && at + 4 <= static_cast<size_t>(n)) {
          result += (result.empty() ? "" : ",") + std::to_string(reply[at]) + "." + std::to_string(reply[at + 1]) +
                    "." + std::to_string(reply[at + 2]) + "." + std::to_string(reply[at + 3]);
        }
        at += static_cast<size_t>(length);
      }
    }
  }
  ::close(fd);
  return result;
}

ResolverNetwork networkWith(const std::string& name, const std::string& address) {
  return {std::string(64, 'e'), kGateway, {{std::string(64, 'c'), parseIpv4(address), {name}}}};
}

// Running, not ended: an ended aardvark may stay a zombie a while (nobody of ours reaps it),
// and a zombie has no command line.
bool alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  try {
    auto cmdline = readFileIfExists("/proc/" + std::to_string(pid) + "/cmdline");
    return cmdline && !cmdline->empty();
  } catch (const std::exception&) {
    return false;  // gone between the two looks
  }
}

class ResolverTest : public ::testing::Test {
 protected:
  ~ResolverTest() override {
    // aardvark daemonises into a session of its own: whatever a test left running is ended here.
    for (const char* slot : {"/config", "/standby/config"}) {
      auto text = readFileIfExists(dir_.path() + slot + "/aardvark.pid");
      pid_t pid = text ? static_cast<pid_t>(std::atol(text->c_str())) : 0;
      auto cmdline = alive(pid) ? readFileIfExists("/proc/" + std::to_string(pid) + "/cmdline") : std::nullopt;
      if (cmdline && cmdline->find(dir_.path()) != std::string::npos) ::kill(pid, SIGKILL);
    }
  }
  pid_t slotPid(const std::string& slot) {
    auto text = readFileIfExists(dir_.path() + slot + "/aardvark.pid");
    pid_t pid = text ? static_cast<pid_t>(std::atol(text->c_str())) : 0;
    return alive(pid) ? pid : 0;
  }
  test::TempDir dir_{"berth-resolver"};
};

TEST_F(ResolverTest, AChangeIsServedByTheOtherAardvarkStartedAfreshAndTheServingOneIsNeverReloaded) {
  bool ran = inNamespaceWithGateway([&] {
    Resolver resolver(kAardvark, dir_.path());
    ASSERT_EQ(resolver.update({networkWith("web", "10.99.0.2")}), 53);
    EXPECT_EQ(lookup("web", 53), "10.99.0.2");
    pid_t primary = slotPid("/config");
    ASSERT_GT(primary, 0);

    // web moves: the standby serves it; the primary still answers as before, untouched.
    ASSERT_EQ(resolver.update({networkWith("web", "10.99.0.3")}), 54);
    EXPECT_EQ(lookup("web", 54), "10.99.0.3");
    EXPECT_EQ(lookup("web", 53), "10.99.0.2");
    EXPECT_EQ(slotPid("/config"), primary);
    EXPECT_EQ(resolver.servingPort(), 54);
    pid_t standby = slotPid("/standby/config");
    ASSERT_GT(standby, 0);

    // And back: the primary is a new process with the newest names; the standby is untouched.
    ASSERT_EQ(resolver.update({networkWith("web", "10.99.0.4")}), 53);
    EXPECT_EQ(lookup("web", 53), "10.99.0.4");
    EXPECT_EQ(lookup("web", 54), "10.99.0.3");
    EXPECT_FALSE(alive(primary));
    EXPECT_EQ(slotPid("/standby/config"), standby);

    // The same names again change nothing.
    pid_t now = slotPid("/config");
    ASSERT_EQ(resolver.update({networkWith("web", "10.99.0.4")}), 53);
    EXPECT_EQ(slotPid("/config"), now);
    EXPECT_EQ(slotPid("/standby/config"), standby);

    // No network left: both exit and the primary's port is the serving one again.
    ASSERT_EQ(resolver.update({}), 53);
    for (int i = 0; i < 200 && (alive(now) || alive(standby)); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_FALSE(alive(now));
    EXPECT_FALSE(alive(standby));
    EXPECT_EQ(resolver.servingPort(), 53);
    EXPECT_EQ(lookup("web", 53), "refused");
  });
  if (!ran) GTEST_SKIP() << "unshare(CLONE_NEWNET) not permitted";
}

TEST_F(ResolverTest, ARestartedServiceFindsTheServingSlotAndACutReloadIsFinished) {
  bool ran = inNamespaceWithGateway([&] {
    {
      Resolver resolver(kAardvark, dir_.path());
      ASSERT_EQ(resolver.update({networkWith("web", "10.99.0.2")}), 53);
      ASSERT_EQ(resolver.update({networkWith("web", "10.99.0.3")}), 54);
    }
    // The next service's resolver: the standby serves and is current, so nothing is started.
    Resolver restarted(kAardvark, dir_.path());
    EXPECT_EQ(restarted.servingPort(), 54);
    pid_t standby = slotPid("/standby/config");
    ASSERT_EQ(restarted.update({networkWith("web", "10.99.0.3")}), 54);
    EXPECT_EQ(slotPid("/standby/config"), standby);
    // A reload in place cut between its files and its signal: the serving slot's files are new,
    // its process is not. The next update must not take the files' word for it.
    auto moved = networkWith("web", "10.99.0.5");
    writeFileAtomic(dir_.path() + "/standby/config/" + moved.id, Resolver::render(moved));
    writeFileAtomic(dir_.path() + "/reloading", "\n");
    EXPECT_EQ(lookup("web", 54), "10.99.0.3");
    uint16_t port = restarted.update({moved});
    EXPECT_EQ(lookup("web", port), "10.99.0.5") << "port " << port;
  });
  if (!ran) GTEST_SKIP() << "unshare(CLONE_NEWNET) not permitted";
}

TEST_F(ResolverTest, WhenTheOtherPortIsHeldTheServingAardvarkReloadsInPlace) {
  bool ran = inNamespaceWithGateway([&] {
    Resolver resolver(kAardvark, dir_.path());
    ASSERT_EQ(resolver.update({networkWith("web", "10.99.0.2")}), 53);
    pid_t primary = slotPid("/config");
    // Another process holds the standby's port on the gateway.
    int held = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(54);
    at.sin_addr.s_addr = htonl(kGateway);
    ASSERT_EQ(::bind(held, reinterpret_cast<sockaddr*>(&at), sizeof at), 0) << std::strerror(errno);
    auto started = std::chrono::steady_clock::now();
    ASSERT_EQ(resolver.update({networkWith("web", "10.99.0.3")}), 53);
    // Known at once, not after the wait for a listener that cannot come.
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1500));
    EXPECT_EQ(slotPid("/config"), primary);
    std::string answer;
    for (int i = 0; i < 100 && (answer = lookup("web", 53)) != "10.99.0.3"; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(answer, "10.99.0.3");
    ::close(held);
  });
  if (!ran) GTEST_SKIP() << "unshare(CLONE_NEWNET) not permitted";
}

}  // namespace
}  // namespace berth::network
