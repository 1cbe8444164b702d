// berth's nftables table: the rendered script (pure), and what libnftables really makes of it.
// The real tests run in a thread that first unshares a network namespace of its own and builds
// the Firewall there, so they never see or touch the machine's rules.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/errors.h"
#include "services/network/firewall.h"

namespace berth::network {
namespace {

FirewallState sampleState() {
  FirewallState state;
  state.bridges.push_back({"berth0", Ipv4Prefix::parse("172.17.0.0/16")});
  state.ports.push_back({"tcp", 0, 8080, parseIpv4("172.17.0.2"), 80, "berth0"});
  return state;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::string invalidMessage(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind() == ErrorKind::invalid ? e.what() : std::string("not invalid: ") + e.what();
  }
  return "no error";
}

TEST(FirewallRenderTest, PublishedPortIsDnatedToTheContainerFromEveryLocalAddress) {
  auto script = renderRuleset("berth", sampleState());
  EXPECT_NE(script.find("    tcp dport 8080 dnat to 172.17.0.2:80\n"), std::string::npos) << script;
  EXPECT_EQ(count(script, "ip daddr"), 0u) << script;
  EXPECT_NE(script.find("fib daddr type local jump published"), std::string::npos);
}

TEST(FirewallRenderTest, PortPublishedOnOneHostAddressMatchesOnlyThatAddress) {
  auto state = sampleState();
  state.ports[0].hostIp = parseIpv4("127.0.0.1");
  state.ports[0].protocol = "udp";
  auto script = renderRuleset("berth", state);
  EXPECT_NE(script.find("    ip daddr 127.0.0.1 udp dport 8080 dnat to 172.17.0.2:80\n"), std::string::npos) << script;
}

TEST(FirewallRenderTest, NamesAreSteeredStatelesslyToTheServingResolversPortOnUserBridgesOnly) {
  auto state = sampleState();
  state.bridges.push_back({"br-n1", Ipv4Prefix::parse("172.18.0.0/16"), true, false, true, parseIpv4("172.18.0.1")});
  state.resolverStandbyPort = 54;
  // The primary (port 53) serves: no query is steered; replies still in flight from the standby
  // leave as port 53.
  auto script = renderRuleset("berth", state);
  EXPECT_EQ(count(script, "dport set"), 0u) << script;
  // Untracked all the same: a port 53 a container publishes never takes the network's queries.
  EXPECT_NE(script.find("    iifname \"br-n1\" ip daddr 172.18.0.1 udp dport 53 notrack\n"), std::string::npos)
      << script;
  EXPECT_NE(script.find("    oifname \"br-n1\" ip saddr 172.18.0.1 udp sport 53 notrack\n"), std::string::npos)
      << script;
  EXPECT_NE(script.find("    oifname \"br-n1\" ip saddr 172.18.0.1 udp sport 54 notrack udp sport set 53\n"),
            std::string::npos)
      << script;
  // The standby serves: queries to the gateway's port 53 go to 54, untracked.
  state.resolverPort = 54;
  script = renderRuleset("berth", state);
  EXPECT_NE(script.find("    iifname \"br-n1\" ip daddr 172.18.0.1 udp dport 53 notrack udp dport set 54\n"),
            std::string::npos)
      << script;
  EXPECT_EQ(count(script, "dport set"), 1u) << script;  // not on the default bridge (resolver 0)
  EXPECT_EQ(count(script, "sport set"), 1u) << script;
  EXPECT_EQ(count(script, "notrack"), 3u) << script;
  EXPECT_EQ(count(script, "172.17.0.1"), 0u) << script;
}

TEST(FirewallRenderTest, SubnetIsMasqueradedLeavingByAnyOtherInterface) {
  auto script = renderRuleset("berth", sampleState());
  EXPECT_NE(script.find("ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade"), std::string::npos) << script;
  EXPECT_NE(script.find("oifname \"berth0\" ip saddr 127.0.0.0/8 masquerade"), std::string::npos);
  EXPECT_NE(script.find("oifname \"berth0\" ct status dnat ip saddr 172.17.0.0/16 masquerade"), std::string::npos);

  auto state = sampleState();
  state.bridges[0].masquerade = false;
  EXPECT_EQ(renderRuleset("berth", state).find("oifname != \"berth0\" masquerade"), std::string::npos);
  state.bridges[0].masquerade = true;
  state.bridges[0].internal = true;
  EXPECT_EQ(renderRuleset("berth", state).find("oifname != \"berth0\" masquerade"), std::string::npos);
}

TEST(FirewallRenderTest, ScriptReplacesTheTableInOneTransaction) {
  auto script = renderRuleset("berth", FirewallState{});
  EXPECT_EQ(script.rfind("add table ip berth\ndelete table ip berth\ntable ip berth {\n", 0), 0u) << script;
  for (const char* chain : {"forward", "prerouting", "output", "published", "postrouting"}) {
    EXPECT_NE(script.find(std::string("  chain ") + chain + " {\n"), std::string::npos) << chain;
  }
}

TEST(FirewallRenderTest, EveryBridgesDropsComeBeforeAnyAccept) {
  FirewallState state;
  state.bridges.push_back({"br-a", Ipv4Prefix::parse("172.18.0.0/16")});
  state.bridges.push_back({"br-b", Ipv4Prefix::parse("172.19.0.0/16"), true, /*internal=*/true, true});
  state.bridges.push_back({"br-c", Ipv4Prefix::parse("172.20.0.0/16"), true, false, /*icc=*/false});
  auto script = renderRuleset("berth", state);
  EXPECT_NE(script.find("iifname \"br-a\" oifname { \"br-b\", \"br-c\" } ct status & dnat == 0 drop"),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("iifname \"br-b\" oifname != \"br-b\" drop"), std::string::npos);
  EXPECT_NE(script.find("oifname \"br-b\" iifname != \"br-b\" drop"), std::string::npos);
  EXPECT_NE(script.find("iifname \"br-c\" oifname \"br-c\" drop"), std::string::npos);
  EXPECT_EQ(script.find("iifname \"br-a\" oifname \"br-a\" drop"), std::string::npos);

  // In the forward chain, the drops that guard one bridge against another (all but the final
  // `oifname X drop` of each bridge) all come before the first accept.
  auto begin = script.find("  chain forward {\n");
  auto end = script.find("  }\n", begin);
  std::istringstream lines(script.substr(begin, end - begin));
  int index = 0, firstAccept = -1, lastGuard = -1;
  for (std::string line; std::getline(lines, line); ++index) {
    bool finalDrop = line.rfind("    oifname ", 0) == 0 && count(line, " ") == 6 && line.ends_with(" drop");
    if (line.ends_with(" accept") && firstAccept < 0) firstAccept = index;
    if (line.ends_with(" drop") && !finalDrop) lastGuard = index;
  }
  EXPECT_GT(lastGuard, 0) << script;
  EXPECT_LT(lastGuard, firstAccept) << script;
}

TEST(FirewallRenderTest, NamesThatCouldInjectRulesAreRefused) {
  for (const char* bad : {"br a", "br;a", "br\"a", "br\na", "", "bridge-name-of-16", "br{a}"}) {
    auto state = sampleState();
    state.bridges[0].bridge = bad;
    EXPECT_EQ(invalidMessage([&] { renderRuleset("berth", state); }),
              std::string("invalid bridge name: \"") + bad + "\"");
  }
  for (const char* bad : {"berth x", "berth;flush ruleset", "9berth", "-berth", ""}) {
    EXPECT_EQ(invalidMessage([&] { renderRuleset(bad, sampleState()); }),
              std::string("invalid nftables table name: \"") + bad + "\"");
  }
  auto state = sampleState();
  state.ports[0].protocol = "tcp dport 1 accept;";
  EXPECT_NE(invalidMessage([&] { renderRuleset("berth", state); }).find("invalid protocol"), std::string::npos);
  state = sampleState();
  state.bridges.push_back(state.bridges[0]);
  EXPECT_EQ(invalidMessage([&] { renderRuleset("berth", state); }), "bridge listed twice: \"berth0\"");
}

// Runs `body` in a thread in a network namespace of its own; false when unshare is not
// permitted (the caller skips). Failures inside `body` are reported by gtest as usual.
bool inFreshNetns(const std::function<void()>& body) {
  int unshareErrno = 0;
  std::thread thread([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      unshareErrno = errno;
      return;
    }
    try {
      body();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "exception: " << e.what();
    }
  });
  thread.join();
  if (unshareErrno == EPERM) return false;
  EXPECT_EQ(unshareErrno, 0) << strerror(unshareErrno);
  return true;
}

// nft's own view, from a context made by the calling thread (so of its namespace); ok is false
// when the command fails (no such table, say).
struct Listing {
  bool ok;
  std::string text;
  std::string error;
  // nft's answer for a table that does not exist, as opposed to any other failure.
  bool noSuchTable() const { return !ok && error.find("Error: No such file or directory") != std::string::npos; }
};
Listing nftList(const std::string& command) {
  nft_ctx* nft = nft_ctx_new(NFT_CTX_DEFAULT);
  nft_ctx_buffer_output(nft);
  nft_ctx_buffer_error(nft);
  int rc = nft_run_cmd_from_buffer(nft, command.c_str());
  Listing listing{rc == 0, nft_ctx_get_output_buffer(nft), nft_ctx_get_error_buffer(nft)};
  nft_ctx_free(nft);
  return listing;
}

TEST(FirewallNftablesTest, ApplyingTwiceReplacesTheTableWithoutDuplicates) {
  bool ran = inFreshNetns([] {
    Firewall firewall("berthtest");
    auto first = sampleState();
    first.ports.push_back({"udp", parseIpv4("127.0.0.1"), 5353, parseIpv4("172.17.0.3"), 53, "berth0"});
    firewall.apply(first);
    auto listed = nftList("list table ip berthtest");
    ASSERT_TRUE(listed.ok);
    EXPECT_EQ(count(listed.text, "dnat to"), 2u) << listed.text;
    EXPECT_NE(listed.text.find("ip daddr 127.0.0.1 udp dport 5353 dnat to 172.17.0.3:53"), std::string::npos)
        << listed.text;

    auto second = sampleState();
    second.ports[0].hostPort = 8081;
    firewall.apply(second);
    firewall.apply(second);
    listed = nftList("list table ip berthtest");
    ASSERT_TRUE(listed.ok);
    EXPECT_EQ(count(listed.text, "dnat to"), 1u) << listed.text;
    EXPECT_NE(listed.text.find("tcp dport 8081 dnat to 172.17.0.2:80"), std::string::npos) << listed.text;
    EXPECT_EQ(count(listed.text, "masquerade"), 3u) << listed.text;
    EXPECT_EQ(count(nftList("list tables").text, "table ip berthtest"), 1u);
  });
  if (!ran) GTEST_SKIP() << "unshare(CLONE_NEWNET) not permitted";
}

TEST(FirewallNftablesTest, IsolatedInternalAndIccOffBridgesLoadAsRendered) {
  bool ran = inFreshNetns([] {
    FirewallState state;
    state.bridges.push_back({"br-a", Ipv4Prefix::parse("172.18.0.0/16")});
    state.bridges.push_back({"br-b", Ipv4Prefix::parse("172.19.0.0/16"), true, /*internal=*/true, true});
    state.bridges.push_back({"br-c", Ipv4Prefix::parse("172.20.0.0/16"), false, false, /*icc=*/false});
    Firewall firewall("berthtest");
    firewall.apply(state);
    auto listed = nftList("list table ip berthtest");
    ASSERT_TRUE(listed.ok);
    // nft lists `ct status & dnat == 0` in its own short form.
    EXPECT_NE(listed.text.find("iifname \"br-a\" oifname { \"br-b\", \"br-c\" } ct status ! dnat drop"),
              std::string::npos)
        << listed.text;
    EXPECT_NE(listed.text.find("iifname \"br-c\" oifname \"br-c\" drop"), std::string::npos) << listed.text;
    EXPECT_EQ(count(listed.text, "oifname != "), 2u) << listed.text;  // br-b's drop, br-a's masquerade
    EXPECT_EQ(count(listed.text, " accept\n"), 9u) << listed.text;
  });
  if (!ran) GTEST_SKIP() << "unshare(CLONE_NEWNET) not permitted";
}

TEST(FirewallNftablesTest, ResolverSteeringLoadsBeforeConntrackAsRendered) {
  bool ran = inFreshNetns([] {
    FirewallState state;
    state.bridges.push_back({"br-n1", Ipv4Prefix::parse("172.18.0.0/16"), true, false, true, parseIpv4("172.18.0.1")});
    state.resolverPort = 54;
    state.resolverStandbyPort = 54;
    Firewall firewall("berthtest");
    firewall.apply(state);
    auto listed = nftList("list table ip berthtest");
    ASSERT_TRUE(listed.ok) << listed.error;
    EXPECT_NE(listed.text.find("type filter hook prerouting priority raw; policy accept;"), std::string::npos)
        << listed.text;
    EXPECT_NE(listed.text.find("iifname \"br-n1\" ip daddr 172.18.0.1 udp dport 53 notrack udp dport set 54"),
              std::string::npos)
        << listed.text;
    EXPECT_NE(listed.text.find("oifname \"br-n1\" ip saddr 172.18.0.1 udp sport 54 notrack udp sport set 53"),
              std::string::npos)
        << listed.text;
  });
  if (!ran) GTEST_SKIP() << "unshare(CLONE_NEWNET) not permitted";
}

TEST(FirewallNftablesTest, RemoveDeletesTheTableAndIsNoErrorWhenThereIsNone) {
  bool ran = inFreshNetns([] {
    Firewall firewall("berthtest");
    firewall.remove();  // none yet
    firewall.apply(sampleState());
    EXPECT_TRUE(nftList("list table ip berthtest").ok);
    firewall.remove();
    EXPECT_TRUE(nftList("list table ip berthtest").noSuchTable()) << nftList("list table ip berthtest").error;
    auto all = nftList("list ruleset");
    ASSERT_TRUE(all.ok) << all.error;
    EXPECT_EQ(all.text, "");
    firewall.remove();
  });
  if (!ran) GTEST_SKIP() << "unshare(CLONE_NEWNET) not permitted";
}

// The sockets this process holds: a libnftables context keeps its netlink socket (and its
// cache of the tables it listed, 0.6 MiB) until it is freed.
size_t openSockets() {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(entry.path(), ec);
    if (!ec && target.string().rfind("socket:", 0) == 0) ++n;
  }
  return n;
}

TEST(FirewallNftablesTest, HoldsNoContextBetweenChanges) {
  bool ran = inFreshNetns([] {
    size_t before = openSockets();
    Firewall firewall("berthtest");
    firewall.apply(sampleState());
    EXPECT_EQ(openSockets(), before);
    firewall.remove();
    EXPECT_EQ(openSockets(), before);
  });
  if (!ran) GTEST_SKIP() << "unshare(CLONE_NEWNET) not permitted";
}

TEST(FirewallNftablesTest, EmptyStateLeavesBaseChainsWithoutRules) {
  bool ran = inFreshNetns([] {
    Firewall firewall("berthtest");
    firewall.apply(sampleState());
    firewall.apply(FirewallState{});
    auto listed = nftList("list table ip berthtest");
    ASSERT_TRUE(listed.ok);
    EXPECT_EQ(count(listed.text, "chain "), 7u) << listed.text;
    EXPECT_EQ(count(listed.text, "dnat to"), 0u) << listed.text;
    EXPECT_EQ(count(listed.text, "masquerade"), 0u) << listed.text;
    EXPECT_EQ(count(listed.text, "berth0"), 0u) << listed.text;
  });
  if (!ran) GTEST_SKIP() << "unshare(CLONE_NEWNET) not permitted";
}

TEST(FirewallNftablesTest, RefusedStateLeavesTheOldTableAsItWas) {
  bool ran = inFreshNetns([] {
    Firewall firewall("berthtest");
    firewall.apply(sampleState());
    auto before = nftList("list table ip berthtest");
    ASSERT_TRUE(before.ok);

    auto bad = sampleState();
    bad.ports[0].hostPort = 9999;
    bad.bridges[0].subnet.bits = 33;  // passes rendering; nftables refuses the prefix
    try {
      firewall.apply(bad);
      ADD_FAILURE() << "apply accepted a /33 prefix";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::internal);
      EXPECT_NE(std::string(e.what()).find("Prefix length 33 is invalid"), std::string::npos) << e.what();
    }
    auto after = nftList("list table ip berthtest");
    ASSERT_TRUE(after.ok);
    EXPECT_EQ(after.text, before.text);
  });
  if (!ran) GTEST_SKIP() << "unshare(CLONE_NEWNET) not permitted";
}

TEST(FirewallNftablesTest, FirewallActsOnTheNamespaceItWasBuiltIn) {
  bool ran = inFreshNetns([] {
    Firewall firewall("berthtest");
    // Move this thread to yet another namespace: the Firewall keeps acting on the first one.
    int first = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(first, 0);
    ASSERT_EQ(unshare(CLONE_NEWNET), 0);
    firewall.apply(sampleState());
    EXPECT_TRUE(nftList("list table ip berthtest").noSuchTable()) << nftList("list table ip berthtest").error;
    ASSERT_EQ(setns(first, CLONE_NEWNET), 0);
    close(first);
    EXPECT_TRUE(nftList("list table ip berthtest").ok);
  });
  if (!ran) GTEST_SKIP() << "unshare(CLONE_NEWNET) not permitted";
}

// End to end through the output hook: the host connecting to a published port on 127.0.0.1
// reaches the "container" address (here 127.0.0.2, local, so no bridge is needed); a port
// published on one host address is not reachable through another; after remove() nothing is.
void bringLoopbackUp() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  ifreq ifr{};
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  ASSERT_EQ(ioctl(fd, SIOCGIFFLAGS, &ifr), 0) << strerror(errno);
  ifr.ifr_flags |= IFF_UP;
  ASSERT_EQ(ioctl(fd, SIOCSIFFLAGS, &ifr), 0) << strerror(errno);
  close(fd);
}

int listenOn(const char* address, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, address, &sa.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd, 4) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// 0 when connected, errno otherwise.
int connectTo(const char* address, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, address, &sa.sin_addr);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 ? 0 : errno;
  close(fd);
  return rc;
}

TEST(FirewallNftablesTest, HostReachesPublishedPortThroughLoopback) {
  bool ran = inFreshNetns([] {
    bringLoopbackUp();
    int server = listenOn("127.0.0.2", 9090);
    ASSERT_GE(server, 0) << strerror(errno);
    EXPECT_EQ(connectTo("127.0.0.1", 8080), ECONNREFUSED);

    FirewallState state;
    state.ports.push_back({"tcp", 0, 8080, parseIpv4("127.0.0.2"), 9090, "berth0"});
    state.ports.push_back({"tcp", parseIpv4("127.0.0.3"), 8081, parseIpv4("127.0.0.2"), 9090, "berth0"});
    Firewall firewall("berthtest");
    firewall.apply(state);
    EXPECT_EQ(connectTo("127.0.0.1", 8080), 0);
    EXPECT_EQ(connectTo("127.0.0.3", 8081), 0);
    EXPECT_EQ(connectTo("127.0.0.1", 8081), ECONNREFUSED);

    firewall.remove();
    EXPECT_EQ(connectTo("127.0.0.1", 8080), ECONNREFUSED);
    close(server);
  });
  if (!ran) GTEST_SKIP() << "unshare(CLONE_NEWNET) not permitted";
}

}  // namespace
}  // namespace berth::network
