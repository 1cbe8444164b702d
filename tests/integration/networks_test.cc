// Bridge networks through the real docker CLI, each test's engine in a network namespace of its
// own (loopback up, nothing else), so every bridge, veth, rule and resolver lives and dies there:
// the default bridge's addresses, hosts and resolv.conf files; docker network
// create/ls/inspect/rm/prune with dockerd's answers; names on user networks (aardvark-dns);
// published ports from the host's loopback, from other containers through the host's address
// and from another namespace (an "outside" host the test makes); and the guarantee dockerd does
// not have: a kill -9 of any process of the engine interrupts no container's traffic.
//
// Expected values are dockerd 20.10's, observed on the reference engine: the default bridge
// 172.17.0.0/16 (gateway .1, first container .2, MAC 02:42 and the address), the next network
// 172.18.0.0/16, and its error texts.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "tests/integration/container_fixture.h"
#include "tests/support/http_client.h"

namespace berth::test {
namespace {

using json = nlohmann::json;

// What a container prints when it fetches / from a busybox httpd: the page's body.
constexpr const char* kPage = "hello-from-web";

class NetworksTest : public ContainersTest {
 protected:
  NetworksTest() : ContainersTest(ownNamespace()) {}
  explicit NetworksTest(Engine::Options options) : ContainersTest(std::move(options)) {}

  static Engine::Options ownNamespace() {
    Engine::Options options;
    options.ownNetworkNamespace = true;
    return options;
  }

  // A command run inside the engine's network namespace (the test's "host").
  CommandResult inEngineNamespace(std::vector<std::string> argv, std::chrono::milliseconds timeout = 20s) {
    argv.insert(argv.begin(), "--net=/proc/" + std::to_string(engine_.pid()) + "/ns/net");
    argv.insert(argv.begin(), "nsenter");
    return run(argv, {}, timeout);
  }

  // GET / from ADDRESS:PORT with busybox nc from the engine's namespace.
  CommandResult fetchFromHost(const std::string& address, int port) {
    return inEngineNamespace({"sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 " + address + " " +
                                              std::to_string(port)});
  }
  // Whether that fetch got the page.
  bool served(const std::string& address, int port) { return contains(fetchFromHost(address, port).out, kPage); }
  // A fetch that reached nothing: nc itself says it could not connect or timed out (exit 1), so
  // a failed docker run (125), a failed setup step or the harness's own timeout (-1) never
  // passes for "not reachable".
  static ::testing::AssertionResult unanswered(const CommandResult& r) {
    if (r.exitCode == 1 && !contains(r.out, kPage) &&
        (contains(r.err, "nc: can't connect") || contains(r.err, "nc: timed out"))) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "exit " << r.exitCode << ", out [" << r.out << "], err [" << r.err << "]";
  }
  // The names the network's resolver serves: the serving aardvark's file for it (the standby's
  // directory when `serving` says port 54), which has one line per container with its names
  // (`id address  name,alias,…`); "" when the network has none.
  std::string resolverEntries(const std::string& network) {
    std::string id = trimNewline(engine_.output({"network", "inspect", "-f", "{{.Id}}", network}));
    EXPECT_EQ(id.size(), 64u) << id;
    std::error_code ec;
    std::string serving = engine_.execRoot() + "/resolver/serving";
    bool standby = fs::exists(serving, ec) && readText(serving) == "54\n";
    std::string path = engine_.execRoot() + "/resolver/" + (standby ? "standby/" : "") + "config/" + id;
    return fs::exists(path, ec) ? readText(path) : "";
  }

  // The "ok" and "FAIL" lines a looping container printed, counted from its first success: a
  // loop starts before the resolver serves the network's newest names.
  std::pair<int, int> okAndFailed(const std::string& container) {
    auto out = engine_.docker({"logs", container}, 30s);
    EXPECT_EQ(out.exitCode, 0) << out.err;
    int ok = 0, failed = 0;
    for (const auto& l : lines(out.out)) {
      if (l == "ok") ++ok;
      if (l == "FAIL" && ok > 0) ++failed;
    }
    return {ok, failed};
  }

  // The same from a new container on `network`.
  CommandResult fetchFromContainer(const std::string& network, const std::string& address, int port) {
    return engine_.docker({"run", "--rm", "--pull", "never", "--network", network, kImage, "sh", "-c",
                           "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 " + address + " " + std::to_string(port)});
  }

  // A busybox httpd serving kPage on port 80; returns its id.
  std::string runWeb(const std::vector<std::string>& options) {
    std::vector<std::string> argv = {"run", "-d", "--pull", "never"};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), {kImage, "sh", "-c",
                             std::string("mkdir -p /www && echo ") + kPage + " > /www/index.html && exec httpd -f -p 80 -h /www"});
    auto r = engine_.docker(argv);
    if (r.exitCode != 0) {
      ADD_FAILURE() << "docker run failed: " << r.err;
      return "";
    }
    return trimNewline(r.out);
  }

  // "Another host": a namespace of the test's own, joined to the engine's by a veth with
  // TEST-NET-1 addresses (192.0.2.1 on the engine's side, 192.0.2.2 outside); deleted with it.
  struct OutsideHost {
    explicit OutsideHost(NetworksTest& test) : name("berth-outside-" + std::to_string(::getpid())) {
      if (run({"ip", "netns", "add", name}).exitCode != 0) return;
      auto veth = test.inEngineNamespace({"sh", "-c",
                                          "ip link add bthost type veth peer name btout netns " + name +
                                              " && ip addr add 192.0.2.1/24 dev bthost && ip link set bthost up"});
      auto inside = run({"ip", "netns", "exec", name, "sh", "-c",
                         "ip link set lo up && ip addr add 192.0.2.2/24 dev btout && ip link set btout up"});
      ok = veth.exitCode == 0 && inside.exitCode == 0;
    }
    ~OutsideHost() { run({"ip", "netns", "del", name}); }
    bool ready() const { return ok; }
    CommandResult exec(const std::string& script) { return run({"ip", "netns", "exec", name, "sh", "-c", script}, {}, 20s); }
    std::string name;
    bool ok = false;
  };

  // The host ends of veths in the engine's namespace.
  int vethCount() {
    auto r = inEngineNamespace({"ip", "-o", "link", "show", "type", "veth"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return static_cast<int>(lines(r.out).size());
  }

  // The engine's nft table, as nft lists it.
  std::string ruleset() {
    auto r = inEngineNamespace({"nft", "list", "table", "ip", "berth"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return r.out;
  }

  static int occurrences(const std::string& text, const std::string& needle) {
    int n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  }

  // Waits until `name` resolves to `address` from a new container on `network` (the resolver
  // reloads asynchronously); the last nslookup's output otherwise.
  std::string resolve(const std::string& network, const std::string& name) {
    auto r = engine_.docker({"run", "--rm", "--pull", "never", "--network", network, kImage, "nslookup", name});
    return r.exitCode == 0 ? r.out : "nslookup failed (" + std::to_string(r.exitCode) + "): " + r.out + r.err;
  }

};

// The address nslookup printed for the name it was asked (the answer after the server's lines).
std::string answeredAddress(const std::string& nslookup) {
  auto at = nslookup.find("Name:");
  if (at == std::string::npos) return "";
  auto address = nslookup.find("Address:", at);
  if (address == std::string::npos) return "";
  auto line = nslookup.substr(address + 8, nslookup.find('\n', address) - address - 8);
  line.erase(0, line.find_first_not_of(" \t"));
  return line;
}

// An engine with no default bridge (--bridge none), in a namespace of its own.
class NoDefaultBridgeTest : public NetworksTest {
 protected:
  NoDefaultBridgeTest() : NetworksTest(withoutDefaultBridge()) {}

  static Engine::Options withoutDefaultBridge() {
    auto options = ownNamespace();
    options.extraArgs = {"--bridge", "none"};
    return options;
  }
};

// berth-network opens libnl and libnftables at its first bridge network, not at its start
// (docs/performance.md, "Network libraries opened when first needed"); what they then do is
// what they did linked: the bridge, the container's address and route, berth's nftables table.
TEST_F(NoDefaultBridgeTest, TheNetworkServiceOpensLibnlAndLibnftablesAtTheFirstBridgeNotAtItsStart) {
  pid_t network = engine_.childPid("network");
  EXPECT_FALSE(mapsLibrary(network, "libnl-3.so"));
  EXPECT_FALSE(mapsLibrary(network, "libnl-route-3.so"));
  EXPECT_FALSE(mapsLibrary(network, "libnftables.so"));
  auto r = engine_.docker({"network", "create", "--subnet", "10.99.0.0/24", "first"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  r = engine_.docker({"run", "--rm", "--pull", "never", "--network", "first", kImage, "sh", "-c",
                      "ip -4 -o addr show eth0 && ip route"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "inet 10.99.0.2/24")) << r.out;
  EXPECT_TRUE(contains(r.out, "default via 10.99.0.1 dev eth0")) << r.out;
  ASSERT_EQ(engine_.childPid("network"), network) << "berth-network restarted";
  EXPECT_TRUE(mapsLibrary(network, "libnl-route-3.so"));
  EXPECT_TRUE(mapsLibrary(network, "libnftables.so"));
  auto table = inEngineNamespace({"nft", "list", "table", "ip", "berth"});
  ASSERT_EQ(table.exitCode, 0) << table.err;
  EXPECT_TRUE(contains(table.out, "10.99.0.0/24")) << table.out;
}

TEST_F(NetworksTest, TheDefaultBridgeGivesAContainerItsAddressRouteHostsEntryAndInspectFields) {
  std::string id = trimNewline(engine_.output(
      {"create", "--pull", "never", "--name", "first", "--hostname", "box", kImage, "sh", "-c",
       "ip -4 -o addr show eth0; ip route; cat /sys/class/net/eth0/address; cat /etc/hosts"}));
  ASSERT_EQ(id.size(), 64u) << id;
  // Before its first start it is on the bridge network without an address, as in dockerd.
  EXPECT_EQ(inspect(engine_, "first", "{{.NetworkSettings.Networks.bridge.IPAddress}}|{{.HostConfig.NetworkMode}}"),
            "|default");
  auto r = engine_.docker({"start", "-a", "first"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "inet 172.17.0.2/16")) << r.out;
  EXPECT_TRUE(contains(r.out, "default via 172.17.0.1 dev eth0")) << r.out;
  EXPECT_TRUE(contains(r.out, "02:42:ac:11:00:02\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "127.0.0.1\tlocalhost\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "172.17.0.2\tbox\n")) << r.out;
  // The bridge itself: the engine's own link with the gateway's address.
  auto link = inEngineNamespace({"ip", "-4", "-o", "addr", "show", "dev", engine_.bridgeName()});
  ASSERT_EQ(link.exitCode, 0) << link.err;
  EXPECT_TRUE(contains(link.out, "inet 172.17.0.1/16")) << link.out;

  // While it runs, inspect shows the address at the top level and under Networks.bridge.
  std::string running = runDetached({"--name", "second", kImage, "sleep", "300"});
  ASSERT_FALSE(running.empty());
  auto settings = json::parse(inspect(engine_, "second", "{{json .NetworkSettings}}"));
  EXPECT_EQ(settings["IPAddress"], "172.17.0.3");
  EXPECT_EQ(settings["Gateway"], "172.17.0.1");
  EXPECT_EQ(settings["IPPrefixLen"], 16);
  EXPECT_EQ(settings["MacAddress"], "02:42:ac:11:00:03");
  const auto& bridge = settings["Networks"]["bridge"];
  EXPECT_EQ(bridge["IPAddress"], "172.17.0.3");
  EXPECT_EQ(bridge["NetworkID"], trimNewline(engine_.output({"network", "inspect", "-f", "{{.Id}}", "bridge"})));
  EXPECT_EQ(bridge["EndpointID"].get<std::string>().size(), 64u);
  // docker stats counts its interface's traffic (a ping from the host makes some).
  ASSERT_EQ(inEngineNamespace({"busybox", "ping", "-c", "2", "-W", "2", "172.17.0.3"}).exitCode, 0);
  auto stats = json::parse(engine_.output({"stats", "--no-stream", "--format", "{{json .}}", "second"}));
  EXPECT_NE(stats["NetIO"], "0B / 0B") << stats.dump();
  // The network lists it.
  auto containers = json::parse(engine_.output({"network", "inspect", "-f", "{{json .Containers}}", "bridge"}));
  ASSERT_TRUE(containers.contains(running)) << containers.dump();
  EXPECT_EQ(containers[running]["IPv4Address"], "172.17.0.3/16");
  EXPECT_EQ(containers[running]["Name"], "second");
}

TEST_F(NetworksTest, NetworkCommandsAnswerAsDockerdDoes) {
  EXPECT_EQ(engine_.output({"network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"}),
            "bridge bridge local\nhost host local\nnone null local\n");
  std::string id = trimNewline(engine_.output({"network", "create", "--label", "team=a", "n1"}));
  ASSERT_EQ(id.size(), 64u) << id;
  auto n1 = json::parse(engine_.output({"network", "inspect", "-f", "{{json .}}", "n1"}));
  EXPECT_EQ(n1["Driver"], "bridge");
  EXPECT_EQ(n1["Scope"], "local");
  EXPECT_EQ(n1["IPAM"]["Config"], json::parse(R"([{"Subnet":"172.18.0.0/16","Gateway":"172.18.0.1"}])"));
  EXPECT_EQ(n1["Labels"], json({{"team", "a"}}));
  EXPECT_EQ(n1["Containers"], json::object());
  auto r = engine_.docker({"network", "create", "n1"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_TRUE(contains(r.err, "Error response from daemon: network with name n1 already exists")) << r.err;
  r = engine_.docker({"network", "rm", "nosuch"});
  EXPECT_TRUE(contains(r.err, "Error response from daemon: network nosuch not found")) << r.err;
  r = engine_.docker({"network", "rm", "bridge"});
  EXPECT_TRUE(contains(r.err, "bridge is a pre-defined network and cannot be removed")) << r.err;
  // A subnet given without a gateway is shown without one.
  ASSERT_EQ(engine_.docker({"network", "create", "--subnet", "10.99.0.0/24", "n2"}).exitCode, 0);
  EXPECT_EQ(engine_.output({"network", "inspect", "-f", "{{json .IPAM.Config}}", "n2"}), "[{\"Subnet\":\"10.99.0.0/24\"}]\n");
  r = engine_.docker({"network", "create", "--subnet", "10.99.0.0/16", "n3"});
  EXPECT_TRUE(contains(r.err, "Pool overlaps with other one on this address space")) << r.err;
  // Filters.
  EXPECT_EQ(engine_.output({"network", "ls", "-q", "--no-trunc", "--filter", "label=team=a"}), id + "\n");
  EXPECT_EQ(engine_.output({"network", "ls", "--format", "{{.Name}}", "--filter", "type=custom"}), "n1\nn2\n");
  EXPECT_EQ(engine_.output({"network", "ls", "--format", "{{.Name}}", "--filter", "driver=null"}), "none\n");

  // A running container keeps its network from being removed; prune removes only unused ones.
  std::string c = runDetached({"--network", "n1", kImage, "sleep", "300"});
  ASSERT_FALSE(c.empty());
  r = engine_.docker({"network", "rm", "n1"});
  EXPECT_TRUE(contains(r.err, "error while removing network: network n1 id " + id + " has active endpoints")) << r.err;
  r = engine_.docker({"network", "prune", "-f"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Deleted Networks:\nn2\n")) << r.out;
  // As moby's matchLabels: a network is kept only when every label! holds for it (dockerd 20.10
  // pruned lp1, labelled a alone, and kept lp2, labelled a and b).
  ASSERT_EQ(engine_.docker({"network", "create", "--label", "a=1", "lp1"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"network", "create", "--label", "a=1", "--label", "b=1", "lp2"}).exitCode, 0);
  r = engine_.docker({"network", "prune", "-f", "--filter", "label!=a", "--filter", "label!=b"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "Deleted Networks:\nlp1\n\n");
  EXPECT_EQ(engine_.output({"network", "rm", "lp2"}), "lp2\n");
  ASSERT_EQ(engine_.docker({"rm", "-f", c}).exitCode, 0);
  EXPECT_EQ(engine_.output({"network", "rm", "n1"}), "n1\n");
  EXPECT_EQ(engine_.output({"network", "ls", "--format", "{{.Name}}", "--filter", "type=custom"}), "");
  // Its bridge went with it.
  auto links = inEngineNamespace({"ip", "-o", "link", "show", "type", "bridge"});
  ASSERT_EQ(links.exitCode, 0) << links.err;
  EXPECT_EQ(lines(links.out).size(), 1u) << links.out;  // the default bridge only
}

// docker ps --filter network=, publish= and expose=, with what dockerd 20.10 lists for the same
// containers: a network by name or by a prefix of its id (a container never started has no
// network id yet); publish= a published host port and expose= a container port, both only while
// the container runs.
TEST_F(NetworksTest, PsFiltersByNetworkPublishedAndExposedPortAsDockerdDoes) {
  std::string n1 = trimNewline(engine_.output({"network", "create", "n1"}));
  ASSERT_EQ(n1.size(), 64u) << n1;
  ASSERT_EQ(engine_.docker({"create", "--pull", "never", "--name", "made", "-p", "8080:80", "--expose", "9000", kImage,
                            "true"}).exitCode, 0);
  ASSERT_FALSE(runDetached({"--name", "live", "--network", "n1", "-p", "8081:80", "--expose", "9000", "-p",
                            "127.0.0.1::53/udp", kImage, "sleep", "300"}).empty());
  auto names = [&](const std::string& filter) {
    auto r = engine_.docker({"ps", "-a", "--format", "{{.Names}}", "--filter", filter});
    EXPECT_EQ(r.exitCode, 0) << filter << ": " << r.err;
    std::string out = r.out;
    std::replace(out.begin(), out.end(), '\n', ' ');
    return out;
  };
  EXPECT_EQ(names("network=n1"), "live ");
  EXPECT_EQ(names("network=bridge"), "made ");
  EXPECT_EQ(names("network=" + n1.substr(0, 5)), "live ");
  EXPECT_EQ(names("network=none"), "");
  EXPECT_EQ(names("publish=8081"), "live ");
  EXPECT_EQ(names("publish=8000-8100/tcp"), "live ");
  EXPECT_EQ(names("publish=80"), "");
  EXPECT_EQ(names("publish=53/udp"), "");  // published on a host port of its own
  EXPECT_EQ(names("publish=0"), "live ");      // 9000, exposed only, counts as host port 0
  EXPECT_EQ(names("expose=9000"), "live ");
  EXPECT_EQ(names("expose=80"), "live ");
  EXPECT_EQ(names("expose=53/udp"), "live ");
  EXPECT_EQ(names("expose=53"), "");
  EXPECT_EQ(names("name=^made$"), "made ");
  EXPECT_EQ(names("name=^/made$"), "made ");
  EXPECT_EQ(names("is-task=true"), "");
  EXPECT_EQ(names("is-task=false"), "live made ");
  // Either of publish= and expose= lists a container.
  auto either = engine_.docker({"ps", "-a", "--format", "{{.Names}}", "--filter", "publish=8081", "--filter", "expose=12345"});
  EXPECT_EQ(either.out, "live\n") << either.err;
  // exited= and before= list no stopped container without -a.
  EXPECT_EQ(engine_.output({"ps", "--format", "{{.Names}}", "--filter", "before=live"}), "");
  // Stopped, it publishes and exposes nothing, and keeps its network.
  ASSERT_EQ(engine_.docker({"stop", "-t", "0", "live"}).exitCode, 0);
  EXPECT_EQ(names("publish=8081"), "");
  EXPECT_EQ(names("expose=9000"), "");
  EXPECT_EQ(names("network=" + n1.substr(0, 5)), "live ");
  // dockerd's words for values it refuses (it answers some of them with 500; berth with 400).
  for (const auto& [filter, message] : std::vector<std::pair<std::string, std::string>>{
           {"publish=80:80", "filter for 'publish' should not contain ':': 80:80"},
           {"expose=70000", "error while looking up for expose 70000: strconv.ParseUint: parsing \"70000\": value out of range"},
           {"publish=abc", "error while looking up for publish abc: strconv.ParseUint: parsing \"abc\": invalid syntax"},
           {"exited=x", "strconv.Atoi: parsing \"x\": invalid syntax"},
           {"health=x", "Unrecognised filter value for health: x"},
           {"is-task=x", "invalid filter 'is-task=[x]'"}}) {
    auto r = engine_.docker({"ps", "-a", "--filter", filter});
    EXPECT_EQ(r.exitCode, 1) << filter;
    EXPECT_EQ(r.err, "Error response from daemon: " + message + "\n") << filter;
  }
  ASSERT_EQ(engine_.docker({"rm", "-f", "live", "made"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"network", "rm", "n1"}).exitCode, 0);
}

TEST_F(NetworksTest, ContainersOnAUserNetworkReachEachOtherByNameAliasAndShortIdButNotAcrossNetworks) {
  ASSERT_EQ(engine_.docker({"network", "create", "n1"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"network", "create", "n2"}).exitCode, 0);
  std::string web = runWeb({"--name", "web", "--network", "n1", "--network-alias", "www"});
  ASSERT_FALSE(web.empty());
  std::string address = inspect(engine_, "web", "{{.NetworkSettings.Networks.n1.IPAddress}}");
  EXPECT_EQ(address, "172.18.0.2");
  EXPECT_EQ(inspect(engine_, "web", "{{json .NetworkSettings.Networks.n1.Aliases}}"),
            "[\"www\",\"" + web.substr(0, 12) + "\"]");
  for (const std::string& name : std::vector<std::string>{"web", "www", web.substr(0, 12)}) {
    std::string out;
    ASSERT_TRUE(waitFor([&] { return answeredAddress(out = resolve("n1", name)) == address; }, 10s, 200ms))
        << name << ": " << out;
  }
  auto r = fetchFromContainer("n1", "web", 80);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, kPage)) << r.out;
  // The container's resolver is its network's.
  EXPECT_EQ(engine_.output({"run", "--rm", "--pull", "never", "--network", "n1", kImage, "grep", "nameserver",
                            "/etc/resolv.conf"}),
            "nameserver 172.18.0.1\n");
  // From another network: no name (n2's resolver has no entry for it; a lookup there would be
  // forwarded upstream, which no test does), and no route through the host to its address.
  EXPECT_TRUE(contains(resolverEntries("n1"), web + " " + address + "  web,www,")) << resolverEntries("n1");
  EXPECT_FALSE(contains(resolverEntries("n2"), web)) << resolverEntries("n2");
  r = fetchFromContainer("n2", address, 80);
  EXPECT_TRUE(unanswered(r));
  // After a restart the container keeps its name; DNS follows its address.
  ASSERT_EQ(engine_.docker({"restart", "-t", "0", "web"}).exitCode, 0);
  std::string out;
  EXPECT_TRUE(waitFor([&] {
    return answeredAddress(out = resolve("n1", "web")) == inspect(engine_, "web", "{{.NetworkSettings.Networks.n1.IPAddress}}");
  }, 10s, 200ms)) << out;
}

TEST_F(NetworksTest, ARunningContainerIsConnectedAndDisconnectedWithItsAliases) {
  ASSERT_EQ(engine_.docker({"network", "create", "n1"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"network", "create", "n2"}).exitCode, 0);
  std::string web = runWeb({"--name", "web", "--network", "n1"});
  ASSERT_FALSE(web.empty());
  auto r = engine_.docker({"network", "connect", "--alias", "w2", "n2", "web"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(inspect(engine_, "web", "{{.NetworkSettings.Networks.n2.IPAddress}}"), "172.19.0.2");
  EXPECT_TRUE(contains(engine_.output({"exec", "web", "ip", "-4", "-o", "addr", "show", "eth1"}), "inet 172.19.0.2/16"));
  std::string out;
  EXPECT_TRUE(waitFor([&] { return answeredAddress(out = resolve("n2", "w2")) == "172.19.0.2"; }, 10s, 200ms)) << out;
  r = fetchFromContainer("n2", "web", 80);
  EXPECT_TRUE(contains(r.out, kPage)) << r.out << r.err;
  r = engine_.docker({"network", "connect", "n2", "web"});
  EXPECT_TRUE(contains(r.err, "endpoint with name web already exists in network n2")) << r.err;

  r = engine_.docker({"network", "disconnect", "n2", "web"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(engine_.output({"exec", "web", "ls", "/sys/class/net"}), "eth0\nlo\n");
  EXPECT_EQ(inspect(engine_, "web", "{{len .NetworkSettings.Networks}}"), "1");
  r = fetchFromContainer("n2", "172.19.0.2", 80);
  EXPECT_TRUE(unanswered(r));
  r = engine_.docker({"network", "disconnect", "n2", "web"});
  EXPECT_TRUE(contains(r.err, "is not connected to network n2")) << r.err;
  // Still served on its first network.
  r = fetchFromContainer("n1", "web", 80);
  EXPECT_TRUE(contains(r.out, kPage)) << r.out << r.err;
}

TEST_F(NetworksTest, APublishedPortAnswersOnLoopbackThroughTheHostAddressAndFromAnotherHost) {
  std::string web = runWeb({"--name", "web", "-p", "8080:80"});
  ASSERT_FALSE(web.empty());
  EXPECT_EQ(engine_.output({"port", "web"}), "80/tcp -> 0.0.0.0:8080\n");
  EXPECT_EQ(engine_.output({"ps", "--format", "{{.Ports}}"}), "0.0.0.0:8080->80/tcp\n");
  EXPECT_TRUE(served("127.0.0.1", 8080));
  // Hairpin: a container on the same bridge through the host's address (the gateway here).
  auto r = fetchFromContainer("bridge", "172.17.0.1", 8080);
  EXPECT_TRUE(contains(r.out, kPage)) << r.out << r.err;
  // From a user network's container too.
  ASSERT_EQ(engine_.docker({"network", "create", "n1"}).exitCode, 0);
  r = fetchFromContainer("n1", "172.18.0.1", 8080);
  EXPECT_TRUE(contains(r.out, kPage)) << r.out << r.err;

  // "Another host": a namespace the test makes, joined to the engine's by a veth.
  OutsideHost host(*this);
  ASSERT_TRUE(host.ready());
  auto fetched = host.exec("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 192.0.2.1 8080");
  EXPECT_TRUE(contains(fetched.out, kPage)) << fetched.out << fetched.err;
  // The container's own address is not reachable from another host that routes to it, even on
  // its published port: moby 28's default ("direct routing" off). dockerd 20.10 accepts the
  // published port there through its DOCKER chain (docs/network.md, differences).
  auto route = host.exec("ip route add 172.17.0.0/16 via 192.0.2.1");
  ASSERT_EQ(route.exitCode, 0) << route.err;
  EXPECT_TRUE(unanswered(host.exec("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 2 172.17.0.2 80")));

  // A host port already published is refused with dockerd's message, and nothing is left over.
  int before = vethCount();
  r = engine_.docker({"run", "-d", "--pull", "never", "-p", "8080:80", kImage, "sleep", "300"});
  EXPECT_EQ(r.exitCode, 125);
  EXPECT_TRUE(contains(r.err, "Bind for 0.0.0.0:8080 failed: port is already allocated")) << r.err;
  EXPECT_EQ(vethCount(), before);
  // -p with a container port only takes a port from the host's ephemeral range.
  std::string other = runWeb({"-p", "80"});
  ASSERT_FALSE(other.empty());
  std::string mapping = trimNewline(engine_.output({"port", other, "80"}));
  ASSERT_TRUE(startsWith(mapping, "0.0.0.0:")) << mapping;
  int port = std::atoi(mapping.substr(8).c_str());
  auto range = lines(readText("/proc/sys/net/ipv4/ip_local_port_range"));
  std::istringstream bounds(range.empty() ? "" : range[0]);
  int low = 0, high = 0;
  bounds >> low >> high;
  EXPECT_GE(port, low);
  EXPECT_LE(port, high);
  EXPECT_TRUE(served("127.0.0.1", port));
  // Removal takes its rule away: the port no longer answers.
  ASSERT_EQ(engine_.docker({"rm", "-f", "web"}).exitCode, 0);
  EXPECT_TRUE(unanswered(fetchFromHost("127.0.0.1", 8080)));
  EXPECT_EQ(occurrences(ruleset(), "dnat to"), 1) << ruleset();
}

TEST_F(NetworksTest, WhereTheForwardPolicyIsDropContainersStillReachOutAndTheirPublishedPortsIn) {
  // As a dockerd on the same host leaves it: iptables' FORWARD policy DROP (in the engine's own
  // namespace here). The network service adds its accept rules when it makes its bridges.
  auto policy = inEngineNamespace({"iptables", "-w", "-P", "FORWARD", "DROP"});
  ASSERT_EQ(policy.exitCode, 0) << policy.err;
  ASSERT_NO_THROW(engine_.killAndAwaitRestart("network"));
  auto rules = inEngineNamespace({"iptables", "-w", "-S", "FORWARD"});
  EXPECT_TRUE(contains(rules.out, "-i " + engine_.bridgeName() + " -m comment --comment \"berth " + engine_.bridgeName() +
                                      "\" -j ACCEPT"))
      << rules.out;
  OutsideHost host(*this);
  ASSERT_TRUE(host.ready());
  auto ping = [&] {
    return engine_.docker({"run", "--rm", "--pull", "never", kImage, "ping", "-c", "1", "-W", "2", "192.0.2.2"});
  };
  auto r = ping();
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "1 packets received")) << r.out;
  ASSERT_FALSE(runWeb({"--name", "web", "-p", "8080:80"}).empty());
  EXPECT_TRUE(contains(host.exec("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 192.0.2.1 8080").out, kPage));
  // Without those rules the same traffic is dropped: the check above can fail.
  ASSERT_EQ(inEngineNamespace({"iptables", "-w", "-F", "FORWARD"}).exitCode, 0);
  r = ping();
  EXPECT_EQ(r.exitCode, 1) << r.err;
  EXPECT_TRUE(contains(r.out, "0 packets received")) << r.out;
}

TEST_F(NetworksTest, ContainerOptionsShapeItsAddressNamesAndResolver) {
  ASSERT_EQ(engine_.docker({"network", "create", "--subnet", "10.77.0.0/24", "n1"}).exitCode, 0);
  auto r = engine_.docker({"run", "--rm", "--pull", "never", "--network", "n1", "--ip", "10.77.0.50", "--hostname", "box", "--domainname", "example.test", "--dns", "10.9.9.9",
                           "--dns-search", "corp.test", "--dns-option", "ndots:3", "--add-host", "db.local:10.1.2.3",
                           "--add-host", "gw:host-gateway", kImage, "sh", "-c",
                           "ip -4 -o addr show eth0; cat /sys/class/net/eth0/address; cat /etc/resolv.conf; cat /etc/hosts"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "inet 10.77.0.50/24")) << r.out;
  EXPECT_TRUE(contains(r.out, "search corp.test\nnameserver 10.9.9.9\noptions ndots:3\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "10.1.2.3\tdb.local\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "172.17.0.1\tgw\n")) << r.out;  // host-gateway: the default bridge's gateway
  EXPECT_TRUE(contains(r.out, "10.77.0.50\tbox.example.test box\n")) << r.out;  // as dockerd 20.10 writes it
  // --mac-address: API 1.43 clients send it in the container's Config (the CLI 28 refuses the
  // option below API 1.44, so the request is made directly).
  auto created = httpRequest(engine_.socketPath(), "POST", "/v1.43/containers/create",
                             json({{"Image", kImage}, {"Cmd", {"cat", "/sys/class/net/eth0/address"}},
                                   {"MacAddress", "02:42:ac:11:00:99"}})
                                 .dump(),
                             "Content-Type: application/json\r\n");
  ASSERT_EQ(created.status, 201) << created.body;
  r = engine_.docker({"start", "-a", json::parse(created.body)["Id"].get<std::string>()});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "02:42:ac:11:00:99\n");
  // An address outside the subnet, and one on the default bridge, are refused as dockerd does.
  r = engine_.docker({"run", "--rm", "--pull", "never", "--network", "n1", "--ip", "10.78.0.5", kImage, "true"});
  EXPECT_TRUE(contains(r.err, "Requested address is out of range")) << r.err;
  r = engine_.docker({"run", "--rm", "--pull", "never", "--ip", "172.17.0.9", kImage, "true"});
  EXPECT_TRUE(contains(r.err, "user specified IP address is supported on user defined networks only")) << r.err;
}

TEST_F(NetworksTest, PublishingAllExposedPortsUdpAndOneHostAddressEachAnswerWhereTheySay) {
  OutsideHost host(*this);
  ASSERT_TRUE(host.ready());
  // -P publishes every EXPOSEd port on a port from the ephemeral range.
  std::string all = runWeb({"--expose", "80", "-P"});
  ASSERT_FALSE(all.empty());
  std::string mapping = trimNewline(engine_.output({"port", all, "80/tcp"}));
  ASSERT_TRUE(startsWith(mapping, "0.0.0.0:")) << mapping;
  EXPECT_TRUE(served("127.0.0.1", std::atoi(mapping.substr(8).c_str())));
  // Published on 127.0.0.1 only: answered there, not on the address other hosts reach.
  std::string local = runWeb({"-p", "127.0.0.1:8082:80"});
  ASSERT_FALSE(local.empty());
  EXPECT_EQ(engine_.output({"port", local}), "80/tcp -> 127.0.0.1:8082\n");
  EXPECT_TRUE(served("127.0.0.1", 8082));
  EXPECT_TRUE(unanswered(host.exec("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 2 192.0.2.1 8082")));
  // UDP: a datagram from the other host to the published port reaches the container's socket
  // (busybox has no UDP server: a static one of the tests' is bound in).
  std::string udp = runDetached({"--name", "udp", "-p", "5353:53/udp", "-v", binDir() + "/udp_sink:/udp_sink:ro", kImage,
                                 "/udp_sink", "53"});
  ASSERT_FALSE(udp.empty());
  EXPECT_EQ(engine_.output({"port", "udp"}), "53/udp -> 0.0.0.0:5353\n");
  std::string got;
  EXPECT_TRUE(waitFor([&] {
    run({"ip", "netns", "exec", host.name, "bash", "-c", "echo datagram > /dev/udp/192.0.2.1/5353"});
    got = engine_.output({"logs", "udp"});
    return contains(got, "datagram");
  }, 15s, 300ms)) << got;
}

TEST_F(NetworksTest, AnInternalNetworkKeepsItsTrafficOnItsBridge) {
  OutsideHost host(*this);
  ASSERT_TRUE(host.ready());
  ASSERT_EQ(engine_.docker({"network", "create", "--internal", "inside"}).exitCode, 0);
  EXPECT_EQ(engine_.output({"network", "inspect", "-f", "{{.Internal}}", "inside"}), "true\n");
  ASSERT_FALSE(runWeb({"--name", "web", "--network", "inside"}).empty());
  auto r = fetchFromContainer("inside", "web", 80);
  EXPECT_TRUE(contains(r.out, kPage)) << r.out << r.err;
  // berth gives an internal network's containers no default route; dockerd 20.10 gives one and
  // drops what leaves the bridge ("0 packets received"). Either way ping itself fails (1).
  r = engine_.docker({"run", "--rm", "--pull", "never", "--network", "inside", kImage, "ping", "-c", "1", "-W", "2",
                      "192.0.2.2"});
  EXPECT_EQ(r.exitCode, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "ping: sendto: Network is unreachable")) << r.out << r.err;
  // The same ping from the default bridge goes out: the refusal above is the network's.
  r = engine_.docker({"run", "--rm", "--pull", "never", kImage, "ping", "-c", "1", "-W", "2", "192.0.2.2"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "1 packets received")) << r.out;
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
}

TEST_F(NetworksTest, ALinkGivesTheLinkedContainersAddressAndVariablesAsDockerdWritesThem) {
  std::string db = runDetached({"--name", "db", "--expose", "5432", "-e", "SECRET=s3", kImage, "sleep", "300"});
  ASSERT_FALSE(db.empty());
  std::string address = inspect(engine_, "db", "{{.NetworkSettings.IPAddress}}");
  ASSERT_EQ(address, "172.17.0.2");
  auto r = engine_.docker({"run", "--name", "web", "--pull", "never", "--link", "db:database", kImage, "sh", "-c",
                           "grep database /etc/hosts; env | grep ^DATABASE_ | sort"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, address + "\tdatabase " + db.substr(0, 12) + " db\n"
                   "DATABASE_ENV_SECRET=s3\n"
                   "DATABASE_NAME=/web/database\n"
                   "DATABASE_PORT=tcp://172.17.0.2:5432\n"
                   "DATABASE_PORT_5432_TCP=tcp://172.17.0.2:5432\n"
                   "DATABASE_PORT_5432_TCP_ADDR=172.17.0.2\n"
                   "DATABASE_PORT_5432_TCP_PORT=5432\n"
                   "DATABASE_PORT_5432_TCP_PROTO=tcp\n");
  EXPECT_EQ(inspect(engine_, "web", "{{json .HostConfig.Links}}"), "[\"/db:/web/database\"]");
  ASSERT_EQ(engine_.docker({"stop", "-t", "0", "db"}).exitCode, 0);
  r = engine_.docker({"start", "web"});
  EXPECT_TRUE(contains(r.err, "Cannot link to a non running container: /db AS /web/database")) << r.err;
  r = engine_.docker({"create", "--pull", "never", "--link", "nosuch", kImage, "true"});
  EXPECT_TRUE(contains(r.err, "could not get container for nosuch")) << r.err;
}

TEST_F(NetworksTest, ASharedNamespaceANamedBridgeAndAHostPortRangeWorkAsInDockerd) {
  ASSERT_EQ(engine_.docker({"network", "create", "-o", "com.docker.network.bridge.name=btnamed", "n1"}).exitCode, 0);
  auto link = inEngineNamespace({"ip", "-4", "-o", "addr", "show", "dev", "btnamed"});
  EXPECT_TRUE(contains(link.out, "inet 172.18.0.1/16")) << link.out << link.err;
  ASSERT_FALSE(runWeb({"--name", "web", "--network", "n1"}).empty());
  // container:<name> joins web's namespace: the same interface and address, and its server.
  auto r = engine_.docker({"run", "--rm", "--pull", "never", "--network", "container:web", kImage, "sh", "-c",
                           "ip -4 -o addr show eth0; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 127.0.0.1 80"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "inet 172.18.0.2/16")) << r.out;
  EXPECT_TRUE(contains(r.out, kPage)) << r.out;
  r = engine_.docker({"run", "--rm", "--pull", "never", "--network", "container:nosuch", kImage, "true"});
  EXPECT_TRUE(contains(r.err, "No such container: nosuch")) << r.err;
  // A host port range: each container takes the first port of it that is free.
  std::string first = runWeb({"-p", "9100-9101:80"});
  std::string second = runWeb({"-p", "9100-9101:80"});
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(engine_.output({"port", first, "80"}), "0.0.0.0:9100\n");
  EXPECT_EQ(engine_.output({"port", second, "80"}), "0.0.0.0:9101\n");
  EXPECT_TRUE(served("127.0.0.1", 9101));
  r = engine_.docker({"run", "-d", "--pull", "never", "-p", "9100-9101:80", kImage, "true"});
  EXPECT_TRUE(contains(r.err, "port is already allocated")) << r.err;
}

TEST_F(NetworksTest, RemovalLeavesNoVethNamespaceOrAddressBehind) {
  ASSERT_EQ(engine_.docker({"network", "create", "n1"}).exitCode, 0);
  for (int i = 0; i < 3; ++i) {
    auto r = engine_.docker({"run", "--rm", "--pull", "never", "--network", "n1", "-p", "9000:80", kImage, "true"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
  }
  // The kernel deletes a removed namespace's veths as it destroys the namespace, just after.
  EXPECT_TRUE(waitFor([&] { return vethCount() == 0; }, 5s)) << vethCount();
  EXPECT_TRUE(fs::is_empty(engine_.execRoot() + "/netns"));
  EXPECT_EQ(occurrences(ruleset(), "dnat to"), 0);
  // Addresses were released: the next container gets the first one again... after the ones
  // handed out (libnetwork hands out serially), and the network shows no container.
  EXPECT_EQ(engine_.output({"network", "inspect", "-f", "{{json .Containers}}", "n1"}), "{}\n");
}

TEST_F(NetworksTest, KillingAnyEngineProcessInterruptsNoTrafficAndTheRestartDuplicatesNothing) {
  ASSERT_EQ(engine_.docker({"network", "create", "n1"}).exitCode, 0);
  ASSERT_FALSE(runWeb({"--name", "web", "--network", "n1", "-p", "8080:80"}).empty());
  pid_t webPid = pidOf(engine_, "web");
  ASSERT_GT(webPid, 1);
  // A client container fetching the page by name every 100 ms; it prints ok or FAIL per try.
  std::string client = runDetached(
      {"--name", "client", "--network", "n1", kImage, "sh", "-c",
       "while true; do if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 web 80 | grep -q " + std::string(kPage) +
           "; then echo ok; else echo FAIL; fi; sleep 0.1; done"});
  ASSERT_FALSE(client.empty());
  // And the host's side: a loop over the published port on 127.0.0.1 from the engine's namespace.
  std::atomic<int> hostOk{0}, hostFailed{0};
  BackgroundLoop loop([&] {
    if (served("127.0.0.1", 8080)) ++hostOk;
    else ++hostFailed;
    std::this_thread::sleep_for(50ms);
  });
  auto clientCounts = [&] { return okAndFailed("client"); };
  ASSERT_TRUE(waitFor([&] { return clientCounts().first > 3 && hostOk > 3; }, 20s));
  int vethsBefore = vethCount();
  std::string rulesBefore = ruleset();
  for (const std::string service : {"network", "containerd-bridge", "api", "images", "volumes", "containerd"}) {
    int okBefore = hostOk;
    ASSERT_NO_THROW(engine_.killAndAwaitRestart(service)) << service;
    // Traffic went on while it was down and after, to the same process, which answers exec.
    EXPECT_TRUE(waitFor([&] { return hostOk > okBefore + 3; }, 10s)) << service;
    EXPECT_EQ(pidOf(engine_, "web"), webPid) << service;
    EXPECT_EQ(engine_.output({"exec", "web", "cat", "/www/index.html"}), std::string(kPage) + "\n") << service;
  }
  // A container created after the network service's restart is attached before its task starts.
  auto r = fetchFromContainer("n1", "web", 80);
  EXPECT_TRUE(contains(r.out, kPage)) << r.out << r.err;
  loop.stop();
  auto [ok, failed] = clientCounts();
  std::printf("client by name: %d ok, %d failed; host on 127.0.0.1:8080: %d ok, %d failed\n", ok, failed,
              hostOk.load(), hostFailed.load());
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(hostFailed, 0);
  EXPECT_GT(ok, 10);
  // Nothing applied twice: the same veths (once the kernel has destroyed the namespace of the
  // --rm container above) and the same ruleset.
  EXPECT_TRUE(waitFor([&] { return vethCount() == vethsBefore; }, 5s)) << vethCount() << " vs " << vethsBefore;
  EXPECT_EQ(ruleset(), rulesBefore);
}

TEST_F(NetworksTest, NamesKeepResolvingWhileContainersComeAndGoOnTheirNetwork) {
  // dockerd's resolver never refuses a query. Each container created or removed on a network
  // changes what its resolver serves; a resolver reloaded in place (aardvark 1.4 rebinds on
  // SIGHUP) refuses queries for a moment, and a lookup then fails at once.
  ASSERT_EQ(engine_.docker({"network", "create", "n1"}).exitCode, 0);
  ASSERT_FALSE(runDetached({"--name", "web", "--network", "n1", kImage, "sleep", "300"}).empty());
  // Two loops looking the name up as fast as they can, each printing ok or FAIL per lookup.
  std::string loop = "while true; do if nslookup web > /dev/null 2>&1; then echo ok; else echo FAIL; fi; done";
  ASSERT_FALSE(runDetached({"--name", "client", "--network", "n1", kImage, "sh", "-c", loop + " & " + loop}).empty());
  auto counts = [&] { return okAndFailed("client"); };
  ASSERT_TRUE(waitFor([&] { return counts().first > 20; }, 20s));
  auto lookup = [&](const std::string& name) { return engine_.docker({"exec", "client", "nslookup", name}); };
  int okBefore = counts().first;
  auto addressOf = [&](const std::string& name) {
    // The address the kernel holds on the container's eth0, read inside it.
    std::string out = engine_.output({"exec", name, "ip", "-4", "-o", "addr", "show", "eth0"});
    auto at = out.find("inet ");
    return at == std::string::npos ? "no address in " + out : out.substr(at + 5, out.find('/', at) - at - 5);
  };
  for (int i = 0; i < 20; ++i) {
    std::string name = "c" + std::to_string(i);
    auto create = [&] {
      auto r =
          engine_.docker({"run", "-d", "--pull", "never", "--name", name, "--network", "n1", kImage, "sleep", "60"});
      EXPECT_EQ(r.exitCode, 0) << r.err;
      return r.exitCode == 0;
    };
    ASSERT_TRUE(create());
    if (i % 8 == 0) {
      // What a change gives is served as soon as its call returns, and nothing older: the same
      // name again, at its next address, resolves to that one only (addresses are handed out
      // serially, so it is another).
      std::string first = addressOf(name);
      auto r = lookup(name);
      EXPECT_TRUE(contains(r.out, "Address: " + first + "\n")) << name << " at " << first << ": " << r.out << r.err;
      ASSERT_EQ(engine_.docker({"rm", "-f", name}).exitCode, 0) << name;
      ASSERT_TRUE(create());
      std::string second = addressOf(name);
      ASSERT_NE(second, first);
      r = lookup(name);
      EXPECT_TRUE(contains(r.out, "Address: " + second + "\n")) << name << " at " << second << ": " << r.out << r.err;
      EXPECT_FALSE(contains(r.out, "Address: " + first + "\n")) << name << ": " << r.out;
    }
    ASSERT_EQ(engine_.docker({"rm", "-f", name}).exitCode, 0) << name;
  }
  auto r = lookup("web");
  EXPECT_TRUE(contains(r.out, "Address: " + addressOf("web") + "\n")) << r.out << r.err;
  auto [ok, failed] = counts();
  std::printf("lookups of web while 20 containers came and went: %d ok, %d failed\n", ok - okBefore, failed);
  EXPECT_EQ(failed, 0);
  EXPECT_GT(ok - okBefore, 100);
  // Both aardvarks, the serving one and the standby, end with the network's last container.
  EXPECT_GT(engine_.resolverPid() + engine_.resolverPid("standby/"), 0);
  ASSERT_EQ(engine_.docker({"rm", "-f", "web", "client"}).exitCode, 0);
  EXPECT_TRUE(waitFor([&] { return engine_.resolverPid() == 0 && engine_.resolverPid("standby/") == 0; }, 10s));
}

TEST_F(NetworksTest, TheRestartedServiceFinishesAnInterruptedAttachAndRemovesWhatNoContainerHas) {
  std::string web = runWeb({"--name", "web", "-p", "8080:80"});
  ASSERT_FALSE(web.empty());
  // An attach cut short after its record was written: the container's veth is missing. And a
  // veth on the bridge that no container has, as a kill -9 mid-detach leaves.
  auto ports = inEngineNamespace({"sh", "-c", "ip -o link show master " + engine_.bridgeName() + " | cut -d: -f2"});
  ASSERT_EQ(ports.exitCode, 0) << ports.err;
  auto names = lines(ports.out);
  ASSERT_EQ(names.size(), 1u) << ports.out;
  std::string veth = names[0].substr(1, names[0].find('@') - 1);
  auto broken = inEngineNamespace({"sh", "-c",
                                   "ip link del " + veth + " && ip link add vethstray type veth peer name vethstray1 && "
                                   "ip link set vethstray master " + engine_.bridgeName()});
  ASSERT_EQ(broken.exitCode, 0) << broken.err;
  EXPECT_TRUE(unanswered(fetchFromHost("127.0.0.1", 8080)));
  ASSERT_NO_THROW(engine_.killAndAwaitRestart("network"));
  EXPECT_TRUE(waitFor([&] { return served("127.0.0.1", 8080); }, 10s));
  auto after = inEngineNamespace({"ip", "-o", "link", "show", "master", engine_.bridgeName()});
  EXPECT_EQ(lines(after.out).size(), 1u) << after.out;
  EXPECT_FALSE(contains(after.out, "vethstray")) << after.out;
}

TEST_F(NetworksTest, ComposeBringsUpAProjectWhoseServicesReachEachOtherByNameAndPublishOnLoopback) {
  writeText(work_.path() + "/compose.yml", std::string(R"(version: "3.8"
services:
  web:
    image: )") + kImage + R"(
    command: ["sh", "-c", "mkdir -p /www && echo )" + kPage + R"( > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["127.0.0.1:8081:80"]
  client:
    image: )" + kImage + R"(
    command: ["sleep", "300"]
)");
  auto compose = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"docker-compose", "--no-ansi", "-p", "berthnet", "-f", work_.path() + "/compose.yml"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {"DOCKER_HOST=" + engine_.dockerHost()}, 120s);
  };
  auto r = compose({"up", "-d"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_EQ(engine_.output({"network", "ls", "--format", "{{.Name}}", "--filter", "type=custom"}), "berthnet_default\n");
  // The client reaches the web service by its service name, on the project's network.
  std::string fetched;
  EXPECT_TRUE(waitFor([&] {
    auto e = engine_.docker({"exec", "berthnet_client_1", "sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 web 80"});
    fetched = e.out + e.err;
    return contains(e.out, kPage);
  }, 15s, 300ms)) << fetched;
  EXPECT_TRUE(served("127.0.0.1", 8081));
  r = compose({"down"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_EQ(engine_.output({"network", "ls", "--format", "{{.Name}}", "--filter", "type=custom"}), "");
  EXPECT_TRUE(waitFor([&] { return vethCount() == 0; }, 5s)) << vethCount();
}

}  // namespace
}  // namespace berth::test
