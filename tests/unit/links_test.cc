// The links of bridge networks, made for real through netlink but never on the machine: each
// test runs on a thread that has a network namespace of its own (the test's "host"), and each
// container namespace is one the test bind-mounts and removes again. What the kernel ends up
// holding is read back with `ip`, entered into either namespace by nsenter.
#include "services/network/links.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <functional>
#include <regex>
#include <thread>

#include "common/errors.h"
#include "services/network/container_namespaces.h"
#include "tests/support/process.h"

namespace berth::network {
namespace {

// Runs `body` on a thread that unshared its network namespace: the links it makes live there
// and go with the thread. `host` is a path nsenter can enter that namespace by.
void onTestHost(const std::function<void(const std::string& host)>& body) {
  std::exception_ptr failed;
  int unshareErrno = 0;
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      unshareErrno = errno;
      return;
    }
    std::string host = "/proc/" + std::to_string(::getpid()) + "/task/" + std::to_string(::gettid()) + "/ns/net";
    try {
      body(host);
    } catch (...) {
      failed = std::current_exception();
    }
  }).join();
  ASSERT_EQ(unshareErrno, 0) << "unshare(CLONE_NEWNET): " << std::strerror(unshareErrno);
  if (failed) std::rethrow_exception(failed);
}

// A container's network namespace as the network service makes it (bind-mounted, loopback
// up), unmounted and deleted at the end of the test.
class ContainerNetns {
 public:
  explicit ContainerNetns(char idDigit) : id_(64, idDigit), path_(namespaces_.ensure(id_)) {}
  ~ContainerNetns() { namespaces_.remove(id_); }
  const std::string& path() const { return path_; }

 private:
  test::TempDir dir_{"berth-links"};
  ContainerNamespaces namespaces_{dir_.path()};
  std::string id_;
  std::string path_;
};

// `ip args...` inside the namespace at `netns`; its standard output.
std::string ip(const std::string& netns, std::vector<std::string> args) {
  std::vector<std::string> argv = {"nsenter", "--net=" + netns, "ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = test::run(argv);
  EXPECT_EQ(result.exitCode, 0) << result.err;
  return result.out;
}

bool isUp(const std::string& linkLine) { return std::regex_search(linkLine, std::regex("[<,]UP[,>]")); }

size_t countOf(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

size_t lineCount(const std::string& text) { return countOf(text, "\n"); }

std::string message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

BridgeLink testBridge() { return {"br-test0", Ipv4Prefix::parse("172.30.0.0/16"), parseIpv4("172.30.0.1"), 1450}; }

EndpointLink testEndpoint(const std::string& netnsPath) {
  return {"vethtest0",           "br-test0", netnsPath, "eth0", parseIpv4("172.30.0.2"), 16, parseIpv4("172.30.0.1"),
          "02:42:ac:1e:00:02", 1450};
}

TEST(LinksTest, EnsuringABridgeCreatesItUpWithTheGatewayAddressAndMtu) {
  onTestHost([](const std::string& host) {
    EXPECT_FALSE(linkExists("br-test0"));
    ensureBridge(testBridge());
    EXPECT_TRUE(linkExists("br-test0"));
    EXPECT_NE(ip(host, {"-o", "-4", "addr", "show", "dev", "br-test0"}).find("inet 172.30.0.1/16 brd 172.30.255.255"),
              std::string::npos);
    auto link = ip(host, {"-o", "link", "show", "dev", "br-test0"});
    EXPECT_NE(link.find("mtu 1450"), std::string::npos) << link;
    EXPECT_TRUE(isUp(link)) << link;
  });
}

TEST(LinksTest, EnsuringABridgeAgainBringsItUpWithOneGatewayAddressAndKeepsOtherAddresses) {
  onTestHost([](const std::string& host) {
    ensureBridge(testBridge());
    ip(host, {"addr", "add", "10.9.0.1/24", "dev", "br-test0"});
    ip(host, {"link", "set", "br-test0", "down", "mtu", "1500"});
    ensureBridge(testBridge());
    auto addresses = ip(host, {"-o", "-4", "addr", "show", "dev", "br-test0"});
    EXPECT_EQ(countOf(addresses, "inet 172.30.0.1/16"), 1u) << addresses;
    EXPECT_EQ(countOf(addresses, "inet 10.9.0.1/24"), 1u) << addresses;
    auto link = ip(host, {"-o", "link", "show", "dev", "br-test0"});
    EXPECT_NE(link.find("mtu 1450"), std::string::npos) << link;
    EXPECT_TRUE(isUp(link)) << link;
  });
}

// The bridge's MAC address as `ip` shows it.
std::string macOf(const std::string& host, const std::string& link) {
  std::smatch m;
  std::string text = ip(host, {"-o", "link", "show", "dev", link});
  return std::regex_search(text, m, std::regex("link/ether ([0-9a-f:]{17})")) ? m[1].str() : "none in " + text;
}

TEST(LinksTest, ABridgesAddressStaysWhatItIsWhilePortsComeAndGo) {
  // Unpinned, a bridge takes its lowest port's address: containers' ARP entries for the gateway
  // would then name an address the bridge no longer takes frames for.
  onTestHost([](const std::string& host) {
    ensureBridge(testBridge());
    std::string made = macOf(host, "br-test0");
    ip(host, {"link", "add", "vlow", "address", "00:00:00:00:00:01", "type", "veth", "peer", "name", "vlow1"});
    ip(host, {"link", "set", "vlow", "master", "br-test0"});
    EXPECT_EQ(macOf(host, "br-test0"), made);
    ip(host, {"link", "del", "vlow"});
    EXPECT_EQ(macOf(host, "br-test0"), made);
    // A bridge an earlier release made without pinning is pinned where it stands at the next start.
    ip(host, {"link", "add", "br-old", "type", "bridge"});
    ensureBridge({"br-old", Ipv4Prefix::parse("172.31.0.0/16"), parseIpv4("172.31.0.1"), 1500});
    std::string old = macOf(host, "br-old");
    ip(host, {"link", "add", "vlow", "address", "00:00:00:00:00:01", "type", "veth", "peer", "name", "vlow1"});
    ip(host, {"link", "set", "vlow", "master", "br-old"});
    EXPECT_EQ(macOf(host, "br-old"), old);
  });
}

TEST(LinksTest, RemovingABridgeDeletesItAndAnAbsentBridgeIsNoError) {
  onTestHost([](const std::string&) {
    ensureBridge(testBridge());
    removeBridge("br-test0");
    EXPECT_FALSE(linkExists("br-test0"));
    removeBridge("br-test0");
  });
}

TEST(LinksTest, PluggingAnEndpointMakesTheContainerEndInsideTheNamespaceWithAddressMacMtuAndDefaultRoute) {
  onTestHost([](const std::string& host) {
    ensureBridge(testBridge());
    ContainerNetns container('a');
    ip(container.path(), {"link", "set", "lo", "down"});
    plugEndpoint(testEndpoint(container.path()));

    auto hostEnd = ip(host, {"-o", "link", "show", "dev", "vethtest0"});
    EXPECT_NE(hostEnd.find("master br-test0"), std::string::npos) << hostEnd;
    EXPECT_NE(hostEnd.find("mtu 1450"), std::string::npos) << hostEnd;
    EXPECT_TRUE(isUp(hostEnd)) << hostEnd;
    EXPECT_FALSE(linkExists("eth0")) << "the container end was made on the host";

    auto containerEnd = ip(container.path(), {"-o", "link", "show", "dev", "eth0"});
    EXPECT_NE(containerEnd.find("link/ether 02:42:ac:1e:00:02"), std::string::npos) << containerEnd;
    EXPECT_NE(containerEnd.find("mtu 1450"), std::string::npos) << containerEnd;
    EXPECT_TRUE(isUp(containerEnd)) << containerEnd;
    auto addresses = ip(container.path(), {"-o", "-4", "addr", "show", "dev", "eth0"});
    EXPECT_NE(addresses.find("inet 172.30.0.2/16 brd 172.30.255.255"), std::string::npos) << addresses;
    auto routes = ip(container.path(), {"-4", "route", "show", "default"});
    EXPECT_NE(routes.find("default via 172.30.0.1 dev eth0"), std::string::npos) << routes;
    EXPECT_TRUE(isUp(ip(container.path(), {"-o", "link", "show", "dev", "lo"})));
  });
}

TEST(LinksTest, AnEndpointWithoutGatewayGetsNoDefaultRoute) {
  onTestHost([](const std::string&) {
    ensureBridge(testBridge());
    ContainerNetns container('a');
    auto endpoint = testEndpoint(container.path());
    endpoint.gateway = 0;
    plugEndpoint(endpoint);
    EXPECT_EQ(ip(container.path(), {"-4", "route", "show", "default"}), "");
  });
}

TEST(LinksTest, PluggingTheSameEndpointAgainLeavesExactlyOnePair) {
  onTestHost([](const std::string& host) {
    ensureBridge(testBridge());
    ContainerNetns container('a');
    plugEndpoint(testEndpoint(container.path()));
    plugEndpoint(testEndpoint(container.path()));
    EXPECT_EQ(lineCount(ip(host, {"-o", "link", "show", "type", "veth"})), 1u);
    EXPECT_EQ(lineCount(ip(container.path(), {"-o", "link", "show", "type", "veth"})), 1u);
    auto addresses = ip(container.path(), {"-o", "-4", "addr", "show", "dev", "eth0"});
    EXPECT_EQ(countOf(addresses, "inet 172.30.0.2/16"), 1u) << addresses;
    EXPECT_EQ(bridgePorts("br-test0"), std::vector<std::string>{"vethtest0"});
  });
}

TEST(LinksTest, UnpluggingRemovesBothEndsAndAnAbsentPairIsNoError) {
  onTestHost([](const std::string&) {
    ensureBridge(testBridge());
    ContainerNetns container('a');
    plugEndpoint(testEndpoint(container.path()));
    unplugEndpoint("vethtest0");
    EXPECT_FALSE(linkExists("vethtest0"));
    EXPECT_EQ(ip(container.path(), {"-o", "link", "show", "type", "veth"}), "");
    unplugEndpoint("vethtest0");
  });
}

TEST(LinksTest, BridgePortsAreTheHostEndsEnslavedToThatBridgeOnly) {
  onTestHost([](const std::string& host) {
    ensureBridge(testBridge());
    ContainerNetns first('a');
    ContainerNetns second('b');
    auto a = testEndpoint(first.path());
    a.hostVeth = "vethtestb";
    plugEndpoint(a);
    auto b = testEndpoint(second.path());
    b.hostVeth = "vethtesta";
    b.address = parseIpv4("172.30.0.3");
    b.mac = "02:42:ac:1e:00:03";
    plugEndpoint(b);
    ip(host, {"link", "add", "loose0", "type", "veth", "peer", "name", "loose1"});
    EXPECT_EQ(bridgePorts("br-test0"), (std::vector<std::string>{"vethtesta", "vethtestb"}));
    EXPECT_EQ(bridgePorts("br-absent"), std::vector<std::string>{});
  });
}

TEST(LinksTest, AFailureInsideTheNamespaceDeletesThePairAndNamesTheStepAndLink) {
  onTestHost([](const std::string&) {
    ensureBridge(testBridge());
    ContainerNetns container('a');
    auto endpoint = testEndpoint(container.path());
    endpoint.gateway = parseIpv4("10.99.0.1");  // not on eth0's subnet: the route is refused
    auto failure = message([&] { plugEndpoint(endpoint); });
    EXPECT_NE(failure.find("add default route via 10.99.0.1 on eth0: "), std::string::npos) << failure;
    EXPECT_FALSE(linkExists("vethtest0"));
    EXPECT_EQ(ip(container.path(), {"-o", "link", "show", "type", "veth"}), "");
  });
}

TEST(LinksTest, PluggingIntoAMissingBridgeFailsAndMakesNoLink) {
  onTestHost([](const std::string&) {
    ContainerNetns container('a');
    EXPECT_EQ(message([&] { plugEndpoint(testEndpoint(container.path())); }),
              "plug vethtest0 into bridge br-test0: no such bridge");
    EXPECT_FALSE(linkExists("vethtest0"));
  });
}

TEST(LinksTest, WritingASysctlSetsItInTheCallersNamespaceAndAFailureNamesThePath) {
  onTestHost([](const std::string&) {
    ensureBridge(testBridge());
    // A key of the test's own bridge: written anywhere but the test namespace, it would fail.
    writeSysctl("net/ipv4/conf/br-test0/forwarding", "1");
    EXPECT_EQ(test::readText("/proc/sys/net/ipv4/conf/br-test0/forwarding"), "1\n");
    writeSysctl("net/ipv4/conf/br-test0/forwarding", "0");
    EXPECT_EQ(test::readText("/proc/sys/net/ipv4/conf/br-test0/forwarding"), "0\n");
    auto failure = message([] { writeSysctl("net/ipv4/conf/br-absent/forwarding", "1"); });
    EXPECT_NE(failure.find("/proc/sys/net/ipv4/conf/br-absent/forwarding"), std::string::npos) << failure;
    EXPECT_NE(failure.find("No such file"), std::string::npos) << failure;
  });
}

}  // namespace
}  // namespace berth::network
