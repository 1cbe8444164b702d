// The network core against a plumbing that keeps the host's state in memory: what an attach
// records and plugs, what a restart of the service finishes or undoes (a record whose veth is
// missing, a veth no record names), that nothing is applied twice, and dockerd's answers for
// networks, addresses and ports.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "common/errors.h"
#include "services/network/network_core.h"
#include "tests/support/process.h"
#include "tests/unit/fake_plumbing.h"

namespace berth::network {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string id(char c) { return std::string(64, c); }

class NetworkCoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<NetworkCore> startCore() {
    NetworkOptions o;
    o.dataDir = dir_.path();
    o.defaultBridge = "br0";
    o.ephemeralPorts = {40000, 40010};
    auto core = std::make_unique<NetworkCore>(o, host_, [this](const std::string& action, const std::string&,
                                                                const NetworkCore::Attributes&) { events_.push_back(action); });
    core->start();
    return core;
  }
  static json request(const std::string& mode, json extra = json::object()) {
    json r = {{"Name", "/c"}, {"NetworkMode", mode}};
    r.update(extra);
    return r;
  }
  static std::string refusal(const std::function<void()>& op) {
    try {
      op();
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  }

  test::TempDir dir_{"berth-network-core"};
  FakePlumbing host_;
  std::vector<std::string> events_;
};

TEST_F(NetworkCoreTest, TheDefaultBridgeTakesTheFirstPoolThatNoHostRouteOverlaps) {
  host_.routes = {Ipv4Prefix::parse("172.17.0.0/16")};  // a docker0 on the host
  auto core = startCore();
  auto bridge = core->inspect("bridge");
  EXPECT_EQ(bridge["IPAM"]["Config"], json::parse(R"([{"Subnet":"172.18.0.0/16"}])"));
  EXPECT_EQ(host_.bridges.at("br0").gateway, parseIpv4("172.18.0.1"));
  EXPECT_EQ(core->count(), 3u);  // bridge, host, none
}

TEST_F(NetworkCoreTest, AnAttachRecordsPlugsAndAnswersTheSameOnEveryLaterCall) {
  auto core = startCore();
  auto first = core->attach(id('a'), request("default"));
  EXPECT_EQ(first.netnsPath, "/netns/" + id('a'));
  EXPECT_EQ(first.settings["Networks"]["bridge"]["IPAddress"], "172.17.0.2");
  EXPECT_EQ(first.settings["Networks"]["bridge"]["MacAddress"], "02:42:ac:11:00:02");
  EXPECT_EQ(host_.veths["br0"].size(), 1u);
  auto again = core->attach(id('a'), request("default"));
  EXPECT_EQ(again.settings, first.settings);
  EXPECT_EQ(host_.plugs, 1);
  EXPECT_EQ(events_, (std::vector<std::string>{"connect"}));
  // The next container gets the next address.
  EXPECT_EQ(core->attach(id('b'), request("bridge")).settings["Networks"]["bridge"]["IPAddress"], "172.17.0.3");
}

TEST_F(NetworkCoreTest, ARestartPlugsAVethARecordNamesAndRemovesOneNoRecordNames) {
  {
    auto core = startCore();
    core->attach(id('a'), request("default"));
  }
  // A kill -9 left the veth of a's attach unplugged, and a stray veth on the bridge.
  host_.veths["br0"].clear();
  host_.veths["br0"].insert("vethstray");
  int applies = host_.firewallApplies;
  auto core = startCore();
  ASSERT_EQ(host_.veths["br0"].size(), 1u);
  EXPECT_FALSE(host_.veths["br0"].count("vethstray"));
  EXPECT_EQ(host_.owner[*host_.veths["br0"].begin()], id('a'));
  EXPECT_EQ(host_.firewallApplies, applies + 1);  // the table written once, whole
  // Its address is still its own: the next container does not get it.
  EXPECT_EQ(core->attach(id('b'), request("default")).settings["Networks"]["bridge"]["IPAddress"], "172.17.0.3");
}

TEST_F(NetworkCoreTest, DetachReleasesEverythingAndReconcileDetachesWhatTheBridgeNoLongerHas) {
  auto core = startCore();
  core->attach(id('a'), request("default", {{"PortBindings", {{"80/tcp", {{{"HostPort", "8080"}}}}}}}));
  core->attach(id('b'), request("default"));
  ASSERT_EQ(host_.firewall->ports.size(), 1u);
  core->detach(id('a'));
  EXPECT_FALSE(host_.netns.count(id('a')));
  EXPECT_TRUE(host_.firewall->ports.empty());
  EXPECT_EQ(host_.veths["br0"].size(), 1u);
  core->detach(id('a'));  // repeated: no error
  EXPECT_EQ(core->reconcile({}), (std::vector<std::string>{id('b')}));
  EXPECT_TRUE(host_.netns.empty());
  EXPECT_TRUE(host_.veths["br0"].empty());
}

TEST_F(NetworkCoreTest, PortsAreRefusedWithDockerdsWordsWhenTakenAndRandomOnesComeFromTheRange) {
  auto core = startCore();
  auto a = core->attach(id('a'), request("default", {{"PortBindings", {{"80/tcp", {{{"HostPort", "8080"}}}}}}}));
  EXPECT_EQ(a.settings["Ports"], json::parse(R"({"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]})"));
  auto taken = refusal([&] {
    core->attach(id('b'), request("default", {{"PortBindings", {{"80/tcp", {{{"HostPort", "8080"}}}}}}}));
  });
  EXPECT_NE(taken.find("Bind for 0.0.0.0:8080 failed: port is already allocated"), std::string::npos) << taken;
  // Its address went back: nothing of the refused attach is left.
  host_.heldPorts = {40000};
  auto c = core->attach(id('c'), request("default", {{"PortBindings", {{"80/tcp", {{{"HostPort", ""}}}}}}}));
  EXPECT_EQ(c.settings["Ports"]["80/tcp"][0]["HostPort"], "40001");  // 40000 is held by a host process
  EXPECT_EQ(c.settings["Networks"]["bridge"]["IPAddress"], "172.17.0.4");  // serial: .3 is not reused at once
  auto udp = core->attach(id('d'), request("default", {{"PortBindings", {{"8080/udp", {{{"HostPort", "8080"}}}}}}}));
  EXPECT_EQ(udp.settings["Ports"]["8080/udp"][0]["HostPort"], "8080");  // another protocol: no conflict
}

TEST_F(NetworkCoreTest, NamesAreSteeredToWhereTheServingResolverListensFromTheFirstTableOn) {
  host_.resolverPortAnswer = kResolverStandbyPort;
  std::string n1;
  {
    auto core = startCore();
    n1 = core->create({{"Name", "n1"}});
    core->attach(id('a'), request("n1"));
    ASSERT_TRUE(host_.firewall.has_value());
    EXPECT_EQ(host_.firewall->resolverPort, kResolverStandbyPort);
    EXPECT_EQ(host_.firewall->resolverStandbyPort, kResolverStandbyPort);
    // Only user networks have names served: the default bridge's containers use the host's servers.
    std::map<std::string, uint32_t> resolverOf;
    for (const auto& b : host_.firewall->bridges) resolverOf[b.bridge] = b.resolver;
    EXPECT_EQ(resolverOf.at("br-" + n1.substr(0, 12)), parseIpv4("172.18.0.1"));
    EXPECT_EQ(resolverOf.at("br0"), 0u);
  }
  // A restarted service finds the standby serving: every table it writes steers there, its
  // first included, so a restart moves no query.
  host_.resolverPortsApplied.clear();
  auto core = startCore();
  ASSERT_FALSE(host_.resolverPortsApplied.empty());
  for (uint16_t port : host_.resolverPortsApplied) EXPECT_EQ(port, kResolverStandbyPort);
  // The resolver hands over to the other aardvark: the table follows in the same call.
  host_.resolverPortAnswer = kResolverPort;
  int applies = host_.firewallApplies;
  core->attach(id('b'), request("n1"));
  EXPECT_EQ(host_.firewall->resolverPort, kResolverPort);
  EXPECT_EQ(host_.firewallApplies, applies + 1);
  // No handover, no published port: the table is not written again.
  core->attach(id('c'), request("n1"));
  EXPECT_EQ(host_.firewallApplies, applies + 1);
  // A handover whose table nftables refused is written again at the next change.
  host_.resolverPortAnswer = kResolverStandbyPort;
  host_.firewallRefusals = 1;
  core->attach(id('d'), request("n1"));
  EXPECT_EQ(host_.firewall->resolverPort, kResolverPort);
  core->attach(id('e'), request("n1"));
  EXPECT_EQ(host_.firewall->resolverPort, kResolverStandbyPort);
}

TEST_F(NetworkCoreTest, UserNetworksAnswerAsDockerdDoesAndTheirNamesReachTheResolver) {
  auto core = startCore();
  std::string n1 = core->create({{"Name", "n1"}, {"Labels", {{"a", "b"}}}});
  EXPECT_EQ(core->inspect("n1")["IPAM"]["Config"], json::parse(R"([{"Subnet":"172.18.0.0/16","Gateway":"172.18.0.1"}])"));
  EXPECT_EQ(host_.bridges.count("br-" + n1.substr(0, 12)), 1u);
  EXPECT_EQ(refusal([&] { core->create({{"Name", "n1"}}); }), "network with name n1 already exists");
  EXPECT_EQ(refusal([&] { core->create({{"Name", "x"}, {"IPAM", {{"Config", {{{"Subnet", "172.18.5.0/24"}}}}}}}); }),
            "Pool overlaps with other one on this address space");
  EXPECT_EQ(refusal([&] { core->remove("bridge"); }), "bridge is a pre-defined network and cannot be removed");
  auto a = core->attach(id('a'), request("n1", {{"Name", "/web"}, {"EndpointsConfig", {{"n1", {{"Aliases", {"www"}}}}}}}));
  EXPECT_EQ(a.settings["Nameservers"], json::array({"172.18.0.1"}));
  ASSERT_EQ(host_.resolver.size(), 1u);
  EXPECT_EQ(host_.resolver[0].entries[0].names, (std::vector<std::string>{"web", "www", id('a').substr(0, 12)}));
  EXPECT_EQ(refusal([&] { core->remove("n1"); }),
            "error while removing network: network n1 id " + n1 + " has active endpoints");
  EXPECT_EQ(core->list(json::parse(R"({"dangling":["true"]})")).size(), 0u);
  // As the reference dockerd 20.10: a map form's false matches no driver (ExactMatch) but still
  // names a type (Get); dangling takes one of four words, once, refused in its words.
  EXPECT_EQ(core->list(json::parse(R"({"driver":{"null":false}})")).size(), 0u);
  EXPECT_EQ(core->list(json::parse(R"({"driver":{"null":true}})")).size(), 1u);
  EXPECT_EQ(core->list(json::parse(R"({"type":{"builtin":false}})")).size(),
            core->list(json::parse(R"({"type":["builtin"]})")).size());
  EXPECT_EQ(refusal([&] { core->list(json::parse(R"({"dangling":["maybe"]})")); }),
            "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")");
  EXPECT_EQ(refusal([&] { core->list(json::parse(R"({"dangling":["true","false"]})")); }),
            "got more than one value for filter key \"dangling\"");
  core->detach(id('a'));
  EXPECT_TRUE(host_.resolver.empty());
  // moby's prune: label! with no value excludes every network; until with none is refused.
  EXPECT_EQ(core->prune(json::parse(R"({"label!":null})")), std::vector<std::string>{});
  EXPECT_EQ(refusal([&] { core->prune(json::parse(R"({"until":null})")); }), "invalid filter 'until=[]'");
  // Excluded only when every label! holds (n1 has a=b, not c); until= once, in dockerd's words.
  EXPECT_EQ(core->prune(json::parse(R"({"label!":["a=b"]})")), std::vector<std::string>{});
  EXPECT_EQ(refusal([&] { core->prune(json::parse(R"({"until":["1h","2h"]})")); }),
            "more than one until filter specified");
  EXPECT_EQ(refusal([&] { core->prune(json::parse(R"({"until":["xx"]})")); }),
            "failed to parse value as time or duration: \"xx\"");
  EXPECT_EQ(core->prune(json::parse(R"({"label!":["a=b","c"]})")), (std::vector<std::string>{"n1"}));
  n1 = core->create({{"Name", "n1"}, {"Labels", {{"a", "b"}}}});
  EXPECT_EQ(core->prune(json()), (std::vector<std::string>{"n1"}));
  EXPECT_FALSE(host_.bridges.count("br-" + n1.substr(0, 12)));
  EXPECT_EQ(refusal([&] { core->inspect("n1"); }), "network n1 not found");
}

// A kill -9 of the network service in the middle of a create, right after its bridge was
// made: the client got no id, so the next start undoes the create, link and record, rather
// than leaving a network (or a link) nobody asked for (the chaos test's open finding).
TEST_F(NetworkCoreTest, ACreateKilledAfterItsLinkWasMadeIsUndoneWhollyByTheNextStart) {
  auto core = startCore();
  test::TempDir killedAt("berth-network-killed");
  FakePlumbing hostAtTheKill;
  host_.afterBridge = [&](const BridgeLink& b) {
    if (b.name.rfind("br-", 0) != 0) return;
    // What the kill leaves: the files as they are now, and the links.
    fs::copy(dir_.path(), killedAt.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    hostAtTheKill.bridges = host_.bridges;
  };
  std::string n1 = core->create({{"Name", "n1"}});
  ASSERT_EQ(hostAtTheKill.bridges.count("br-" + n1.substr(0, 12)), 1u);

  NetworkOptions o;
  o.dataDir = killedAt.path();
  o.defaultBridge = "br0";
  NetworkCore next(o, hostAtTheKill, [](const std::string&, const std::string&, const NetworkCore::Attributes&) {});
  next.start();
  EXPECT_EQ(refusal([&] { next.inspect("n1"); }), "network n1 not found");
  EXPECT_EQ(hostAtTheKill.bridges.count("br-" + n1.substr(0, 12)), 0u) << "the cut create's link was left";
  ASSERT_TRUE(hostAtTheKill.firewall.has_value());
  EXPECT_EQ(hostAtTheKill.firewall->bridges.size(), 1u);  // br0's only
  // The name is free again, and a create that completes survives a restart whole.
  std::string again = next.create({{"Name", "n1"}});
  NetworkCore after(o, hostAtTheKill, [](const std::string&, const std::string&, const NetworkCore::Attributes&) {});
  after.start();
  EXPECT_EQ(after.inspect("n1")["Id"], again);
  EXPECT_EQ(hostAtTheKill.bridges.count("br-" + again.substr(0, 12)), 1u);
}

TEST_F(NetworkCoreTest, ConnectAddsAnInterfaceAndDisconnectTakesItAway) {
  auto core = startCore();
  core->create({{"Name", "n1"}});
  core->attach(id('a'), request("default"));
  auto connected = core->connect(id('a'), "n1", {{"Aliases", {"x"}}});
  EXPECT_EQ(connected["Networks"]["n1"]["IPAddress"], "172.18.0.2");
  size_t veths = 0;
  for (const auto& [bridge, ports] : host_.veths) veths += ports.size();
  EXPECT_EQ(veths, 2u);  // one on each bridge
  EXPECT_NE(refusal([&] { core->connect(id('a'), "n1", json::object()); }).find("already exists in network n1"),
            std::string::npos);
  auto after = core->disconnect(id('a'), "n1");
  EXPECT_FALSE(after["Networks"].contains("n1"));
  EXPECT_NE(refusal([&] { core->disconnect(id('a'), "n1"); }).find("is not connected to network n1"), std::string::npos);
}

TEST_F(NetworkCoreTest, AnEngineWithoutABridgeNetworkLeavesTheFirewallAlone) {
  NetworkOptions o;
  o.dataDir = dir_.path();
  o.defaultBridge = "none";
  NetworkCore core(o, host_, [](const std::string&, const std::string&, const NetworkCore::Attributes&) {});
  core.start();
  EXPECT_EQ(host_.firewallApplies, 0);
  EXPECT_TRUE(host_.bridges.empty());
  EXPECT_EQ(refusal([&] { core.inspect("bridge"); }), "network bridge not found");
  // The default network is a namespace with loopback only.
  auto attached = core.attach(id('a'), request("default"));
  EXPECT_EQ(attached.settings["Networks"], json::object());
  EXPECT_EQ(host_.plugs, 0);
}

}  // namespace
}  // namespace berth::network
