// Containers' network namespaces, made by the network service: a --network none container joins
// the namespace bind-mounted at <exec-root>/netns/<id> (loopback up, nothing else), keeps it
// through a kill -9 of the network service, and its removal takes the namespace away. The host's
// network gets none. This engine runs on the machine's network with no default bridge
// (`--bridge none`, as dockerd's `-b none`), so the default network is loopback only too;
// networks_test.cc covers bridges, in engines of their own namespaces.
#include <sys/stat.h>
#include <sys/vfs.h>

#include "tests/integration/container_fixture.h"

namespace berth::test {
namespace {

constexpr long kNsfsMagic = 0x6e736673;

// A process's network namespace as the kernel names it ("net:[inode]"); a failure to read it is
// a test failure, never an empty name that would differ from any other.
std::string networkNamespaceOf(pid_t pid) {
  std::error_code ec;
  auto name = fs::read_symlink("/proc/" + std::to_string(pid) + "/ns/net", ec).string();
  if (ec || name.rfind("net:[", 0) != 0) {
    ADD_FAILURE() << "cannot read the network namespace of pid " << pid << ": " << ec.message();
    return "unreadable(" + std::to_string(pid) + ")";
  }
  return name;
}

class NetworkNamespacesTest : public ContainersTest {
 protected:
  std::string netnsOf(const std::string& id) const { return engine_.execRoot() + "/netns/" + id; }
  static bool holdsNamespace(const std::string& path) {
    struct statfs fs {};
    return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == kNsfsMagic;
  }
  // "net:[INODE]" of a process, and of the namespace a path holds.
  static std::string namespaceOfPid(pid_t pid) { return networkNamespaceOf(pid); }
  static std::string namespaceAt(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return "none";
    return "net:[" + std::to_string(st.st_ino) + "]";
  }
  int netnsMounts() {
    int n = 0;
    for (const auto& line : lines(readText("/proc/self/mountinfo"))) {
      if (contains(line, " " + engine_.execRoot() + "/netns/")) ++n;
    }
    return n;
  }
};

TEST_F(NetworkNamespacesTest, ANoneContainerJoinsTheServicesNamespaceWhichOutlivesAKillOfTheServiceAndGoesWithIt) {
  std::string id = runDetached({"--name", "isolated", "--network", "none", kImage, "sleep", "300"});
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(holdsNamespace(netnsOf(id)));
  EXPECT_EQ(netnsMounts(), 1);  // the count below that must reach 0 counts this one
  pid_t pid = pidOf(engine_, id);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(namespaceOfPid(pid), namespaceAt(netnsOf(id)));
  EXPECT_NE(namespaceOfPid(pid), namespaceOfPid(::getpid()));
  // Loopback only, and up (IFF_UP | IFF_LOOPBACK = 0x9).
  EXPECT_EQ(engine_.output({"exec", "isolated", "ls", "/sys/class/net"}), "lo\n");
  EXPECT_EQ(engine_.output({"exec", "isolated", "cat", "/sys/class/net/lo/flags"}), "0x9\n");

  // kill -9 of the network service: the container keeps its namespace; the restarted service
  // makes the next container's.
  ASSERT_NO_THROW(engine_.killAndAwaitRestart("network"));
  EXPECT_EQ(namespaceOfPid(pid), namespaceAt(netnsOf(id)));
  EXPECT_EQ(engine_.output({"exec", "isolated", "cat", "/sys/class/net/lo/flags"}), "0x9\n");
  auto r = engine_.docker({"run", "--rm", "--pull", "never", "--network", "none", kImage, "ls", "/sys/class/net"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "lo\n");

  // A restart joins the same namespace; the removal takes it away (and --rm's did).
  ASSERT_EQ(engine_.docker({"restart", "-t", "0", "isolated"}).exitCode, 0);
  EXPECT_EQ(namespaceOfPid(pidOf(engine_, id)), namespaceAt(netnsOf(id)));
  ASSERT_EQ(engine_.docker({"rm", "-f", "isolated"}).exitCode, 0);
  EXPECT_FALSE(fs::exists(netnsOf(id)));
  EXPECT_EQ(netnsMounts(), 0);
  EXPECT_TRUE(fs::is_empty(engine_.execRoot() + "/netns"));
}

TEST_F(NetworkNamespacesTest, TheHostsNetworkGetsNoNamespaceAndWithoutABridgeTheDefaultIsLoopbackOnly) {
  std::string id = runDetached({"--network", "host", kImage, "sleep", "300"});
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(namespaceOfPid(pidOf(engine_, id)), namespaceOfPid(::getpid()));
  EXPECT_FALSE(fs::exists(netnsOf(id)));
  EXPECT_EQ(netnsMounts(), 0);
  std::string byDefault = runDetached({kImage, "sleep", "300"});
  ASSERT_FALSE(byDefault.empty());
  EXPECT_EQ(namespaceOfPid(pidOf(engine_, byDefault)), namespaceAt(netnsOf(byDefault)));
  EXPECT_EQ(engine_.output({"exec", byDefault, "ls", "/sys/class/net"}), "lo\n");
  // dockerd's -b none: no network called bridge exists.
  auto r = engine_.docker({"network", "inspect", "bridge"});
  EXPECT_TRUE(contains(r.err, "network bridge not found")) << r.err;
}

TEST(EngineInItsOwnNetworkNamespaceTest, TheEngineAndItsHostNetworkContainersSeeOnlyTheirOwnLoopbackAndBridge) {
  Engine::Options options;
  options.ownNetworkNamespace = true;
  Engine engine(options);
  TempDir work("berth-netns-engine");
  auto r = engine.docker({"load", "-i", busyboxArchive(work.path(), kImage)});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(networkNamespaceOf(engine.pid()), networkNamespaceOf(::getpid()));
  r = engine.docker({"run", "--rm", "--pull", "never", "--network", "host", kImage, "sh", "-c",
                     "ls /sys/class/net; cat /sys/class/net/lo/flags"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, engine.bridgeName() + "\nlo\n0x9\n");  // its namespace's links: the engine's bridge
  // The services answer on their unix-socket endpoints as usual.
  EXPECT_EQ(engine.serviceHealth().size(), 4u);  // images, volumes, network, containerd-bridge
}

}  // namespace
}  // namespace berth::test
